// Upload staging for S3 storage: a chunked (resumable) upload becomes an S3 multipart upload of
// the temp object `<rootdirectory>/uploads/<id>`. Appended bytes are cut into parts of
// storage.s3.chunksize (S3 wants at least 5 MiB for every part but the last), each sent with its
// x-amz-checksum-sha256 while the next one is read, so memory stays at about two parts per
// upload whatever the blob's size. What is left over at the end of a request (less than a part)
// waits in a local tail file until the next request or the commit.
//
// The upload's state (the S3 upload id, the parts sent with their ETags and checksums, the tail
// file's generation and size) lives in the local data directory as `uploads/<id>.json`, replaced
// atomically: a request's bytes count only once the state naming them is written, so a stream
// that fails (or a crash) leaves the upload as it was, and the client resumes from the size it
// is told, after a restart too. Parts sent by a failed request are overwritten by the next one.
//
// The commit verifies the sha256 Packyard computed while the bytes arrived, then completes the
// multipart upload (or, for a blob smaller than a part, puts the object with its full
// x-amz-checksum-sha256) and hands the temp object to the blob store to copy into place. After a
// restart, when the running hash is gone, it completes first and reads the object back to hash
// it. Cancelling aborts the multipart upload and removes the temp object and the local files.

import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3'
import { createHash, type Hash } from 'node:crypto'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { RegistryError } from '../errors.js'
import { removeFile, unlessMissing, writeFileAtomic } from '../files.js'
import { isJsonObject } from '../json.js'
import { assertDigest, digestOfStream, verifyExpectation } from './digest.js'
import { UPLOAD_STATE_SUFFIX, uploadStateFile, uploadTailFile } from './layout.js'
import type { S3BlobStore } from './s3.js'
import type { BlobInfo, StagedBlob } from './types.js'
import { checkOffset, type ChunkExpectation, type CommitExpectation, ENTRY_NAME, type StagedEntry, unknownUpload, type UploadStaging, wrongLength } from './uploads.js'

interface Part {
  PartNumber: number
  ETag: string
  ChecksumSHA256: string
  size: number
}

/** What `uploads/<id>.json` holds. */
interface UploadState {
  /** The S3 multipart upload; null until the first part is full. */
  uploadId: string | null
  parts: Part[]
  /** Generation of the tail file `<id>.<tail>.tail`, which holds the bytes after the parts. */
  tail: number
  tailSize: number
  /** The bytes are assembled in the temp object (a commit after a restart read them back). */
  assembled: boolean
}

interface RunningHash {
  hash: Hash
  size: number
}


function sha256Base64(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64')
}

function partsBytes(state: UploadState): number {
  return state.parts.reduce((sum, part) => sum + part.size, 0)
}

function sizeOf(state: UploadState): number {
  return partsBytes(state) + state.tailSize
}

function parseState(text: string, path: string): UploadState {
  const value: unknown = JSON.parse(text)
  if (!isJsonObject(value) || !Array.isArray(value.parts) || typeof value.tail !== 'number' || typeof value.tailSize !== 'number') {
    throw new Error(`${path} is not an upload state`)
  }
  return value as unknown as UploadState
}

export class S3UploadStaging implements UploadStaging {
  /** sha256 of each upload's bytes as this process received them (see FilesystemUploadStaging). */
  private readonly running = new Map<string, RunningHash>()

  constructor(
    private readonly store: S3BlobStore,
    /** The local folder for states and tail files. */
    private readonly dir: string,
  ) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true })
  }

  private checkId(id: string): void {
    if (!ENTRY_NAME.test(id)) throw unknownUpload(id)
  }

  private statePath(id: string): string {
    return uploadStateFile(this.dir, id)
  }

  private tailPath(id: string, generation: number): string {
    return uploadTailFile(this.dir, id, generation)
  }

  private async load(id: string): Promise<UploadState | null> {
    this.checkId(id)
    const path = this.statePath(id)
    const text = await unlessMissing(readFile(path, 'utf8'))
    return text === null ? null : parseState(text, path)
  }

  private async loadExisting(id: string): Promise<UploadState> {
    const state = await this.load(id)
    if (!state) throw unknownUpload(id)
    return state
  }

  private async save(id: string, state: UploadState): Promise<void> {
    await writeFileAtomic(this.statePath(id), JSON.stringify(state), 0o644)
  }

  async create(id: string): Promise<void> {
    this.checkId(id)
    const initial: UploadState = { uploadId: null, parts: [], tail: 0, tailSize: 0, assembled: false }
    await mkdir(this.dir, { recursive: true })
    await writeFile(this.statePath(id), JSON.stringify(initial), { flag: 'wx', mode: 0o644 })
    this.running.set(id, { hash: createHash('sha256'), size: 0 })
  }

  async size(id: string): Promise<number> {
    return sizeOf(await this.loadExisting(id))
  }

  private async readTail(id: string, state: UploadState): Promise<Buffer> {
    if (state.tailSize === 0) return Buffer.alloc(0)
    const data = await readFile(this.tailPath(id, state.tail))
    if (data.length < state.tailSize) throw new Error(`upload ${id}: its tail file holds ${data.length} bytes, its state says ${state.tailSize}`)
    return data.subarray(0, state.tailSize)
  }

  private async sendPart(id: string, uploadId: string, number: number, data: Buffer): Promise<Part> {
    const checksum = sha256Base64(data)
    const sent = await this.store.call(`store part ${number} of upload ${id}`, () =>
      this.store.client.send(
        new UploadPartCommand({ Bucket: this.store.bucket, Key: this.store.uploadKey(id), UploadId: uploadId, PartNumber: number, Body: data, ContentLength: data.length, ChecksumSHA256: checksum }),
      ),
    )
    return { PartNumber: number, ETag: sent.ETag ?? '', ChecksumSHA256: checksum, size: data.length }
  }

  async append(id: string, source: Readable, expected: ChunkExpectation = {}): Promise<number> {
    const state = await this.loadExisting(id)
    if (state.assembled) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', `blob upload ${id} was already assembled by a commit whose digest did not match; cancel it and start again`, { uuid: id })
    }
    const start = sizeOf(state)
    // The source is left unread on a bad offset, so the client still hears the 416.
    checkOffset(expected, start)
    const partSize = this.store.settings.partSize
    const known = this.running.get(id)
    this.running.delete(id)
    const hashing = known?.size === start ? { hash: known.hash.copy(), size: start } : null
    // Bytes are copied into a part-sized buffer as they arrive; a full one is sent while the
    // next fills the other buffer, so an append holds two parts whatever the blob's size. A
    // chunk of known length smaller than a part gets a buffer of its size.
    let filling: Buffer = Buffer.allocUnsafe(expected.length === undefined ? partSize : Math.min(partSize, state.tailSize + expected.length))
    let spare: Buffer | null = null
    let filled = 0
    let received = 0
    const sent: Part[] = []
    // Assigned in sendFilled(), which the compiler's narrowing does not follow.
    let sending = null as Promise<void> | null
    let uploadId = state.uploadId
    const sendFilled = async (): Promise<void> => {
      if (uploadId === null) {
        uploadId = await this.startMultipart(id)
        // Recorded at once, so that a cancel can abort it whatever happens next.
        await this.save(id, { ...state, uploadId })
      }
      // One part in flight while the next one is read; once it is sent its buffer is free.
      await sending
      const part = filling
      filling = spare ?? Buffer.allocUnsafe(partSize)
      spare = part
      filled = 0
      const number = state.parts.length + sent.length + 1
      sending = this.sendPart(id, uploadId, number, part).then((p) => {
        sent.push(p)
      })
      // A failure surfaces at the next await; until then it must not count as unhandled.
      sending.catch(() => undefined)
    }
    const take = async (bytes: Buffer): Promise<void> => {
      for (let offset = 0; offset < bytes.length; ) {
        // A buffer sized to a declared length fills up only if more arrives than declared, which
        // the length check refuses first; should that order ever change, grow, never spin.
        if (filled === filling.length) filling = Buffer.concat([filling], partSize)
        const n = Math.min(filling.length - filled, bytes.length - offset)
        bytes.copy(filling, filled, offset, offset + n)
        filled += n
        offset += n
        if (filled === partSize) await sendFilled()
      }
    }
    try {
      // The last partial part of earlier appends first (already hashed with them).
      await take(await this.readTail(id, state))
      for await (const chunk of source as AsyncIterable<Buffer>) {
        received += chunk.length
        if (expected.length !== undefined && received > expected.length) throw wrongLength(received, expected.length)
        if (start + received > this.store.maxBlobBytes) throw this.store.tooLarge()
        hashing?.hash.update(chunk)
        await take(chunk)
      }
      if (expected.length !== undefined && received !== expected.length) throw wrongLength(received, expected.length)
      await sending
    } catch (err) {
      await sending?.catch(() => undefined)
      if (known?.size === start) this.running.set(id, known)
      throw err
    }
    const tail = filling.subarray(0, filled)
    const next: UploadState = { uploadId, parts: [...state.parts, ...sent], tail: state.tail + 1, tailSize: tail.length, assembled: false }
    if (tail.length > 0) await writeFileAtomic(this.tailPath(id, next.tail), tail, 0o644)
    await this.save(id, next)
    await removeFile(this.tailPath(id, state.tail))
    const size = sizeOf(next)
    if (hashing) this.running.set(id, { hash: hashing.hash, size })
    return size
  }

  private async startMultipart(id: string): Promise<string> {
    const created = await this.store.call(`start multipart upload ${id}`, () =>
      this.store.client.send(new CreateMultipartUploadCommand({ Bucket: this.store.bucket, Key: this.store.uploadKey(id), ChecksumAlgorithm: 'SHA256', ...this.store.objectParams() })),
    )
    if (!created.UploadId) throw this.store.unavailable(`start multipart upload ${id}`, new Error('no UploadId in the answer'))
    return created.UploadId
  }

  /** Makes the temp object hold every byte: the last part and CompleteMultipartUpload, or one PUT. */
  private async assemble(id: string, state: UploadState, digest: string | null): Promise<void> {
    const key = this.store.uploadKey(id)
    const tail = await this.readTail(id, state)
    if (state.uploadId === null) {
      await this.store.call(`store upload ${id}`, () =>
        this.store.client.send(
          new PutObjectCommand({
            Bucket: this.store.bucket,
            Key: key,
            Body: tail,
            ContentLength: tail.length,
            // The whole object: S3 checks it against our own digest.
            ...(digest ? { ChecksumSHA256: Buffer.from(digest.slice('sha256:'.length), 'hex').toString('base64') } : {}),
            ...this.store.objectParams(),
          }),
        ),
      )
    } else {
      const uploadId = state.uploadId
      const parts = tail.length > 0 ? [...state.parts, await this.sendPart(id, uploadId, state.parts.length + 1, tail)] : state.parts
      await this.store.call(`complete multipart upload ${id}`, () =>
        this.store.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.store.bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts.map(({ PartNumber, ETag, ChecksumSHA256 }) => ({ PartNumber, ETag, ChecksumSHA256 })) },
          }),
        ),
      )
    }
    await this.save(id, { ...state, uploadId: null, assembled: true })
  }

  async commit(id: string, expected: CommitExpectation): Promise<StagedBlob> {
    assertDigest(expected.digest)
    const state = await this.loadExisting(id)
    const size = sizeOf(state)
    const known = this.running.get(id)
    let info: BlobInfo
    if (!state.assembled && known?.size === size) {
      // Hashed as it arrived; a copy, so that a failed verification keeps it.
      info = { digest: `sha256:${known.hash.copy().digest('hex')}`, size }
      verifyExpectation(info, expected)
      await this.assemble(id, state, info.digest)
    } else {
      if (!state.assembled) await this.assemble(id, state, null)
      const stream = await this.store.openKey(this.store.uploadKey(id), undefined, `read back upload ${id}`)
      if (!stream) throw unknownUpload(id)
      info = await digestOfStream(stream)
      verifyExpectation(info, expected)
    }
    this.running.delete(id)
    return this.store.stagedObject(this.store.uploadKey(id), info, () => this.cancel(id))
  }

  async cancel(id: string): Promise<boolean> {
    this.checkId(id)
    this.running.delete(id)
    const state = await this.load(id)
    if (state?.uploadId) await this.store.abortMultipart(this.store.uploadKey(id), state.uploadId)
    const hadObject = await this.store.deleteKey(this.store.uploadKey(id))
    for (const name of await readdir(this.dir)) {
      if (name.startsWith(`${id}.`) && name.endsWith('.tail')) await removeFile(join(this.dir, name))
    }
    // The state goes last: a cancel cut short leaves an entry that list() still shows.
    const hadState = await removeFile(this.statePath(id))
    return hadState || hadObject
  }

  /** Local uploads, then temp objects in the bucket no local upload accounts for (interrupted puts). */
  async *list(): AsyncIterable<StagedEntry> {
    const entries = new Map<string, StagedEntry>()
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith(UPLOAD_STATE_SUFFIX)) continue
      const id = name.slice(0, -UPLOAD_STATE_SUFFIX.length)
      if (!ENTRY_NAME.test(id)) continue
      const path = join(this.dir, name)
      const [text, st] = await Promise.all([unlessMissing(readFile(path, 'utf8')), unlessMissing(stat(path))])
      if (text === null || st === null) continue
      entries.set(id, { id, size: sizeOf(parseState(text, path)), modifiedAt: st.mtimeMs })
    }
    const prefix = this.store.uploadKey('')
    for await (const object of this.store.listKeys(prefix)) {
      const id = object.key.slice(prefix.length)
      if (ENTRY_NAME.test(id) && !entries.has(id)) entries.set(id, { id, size: object.size, modifiedAt: object.modifiedAt })
    }
    for (const entry of [...entries.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) yield entry
  }
}
