// Upload staging for S3 storage: a chunked (resumable) upload becomes an S3 multipart upload of
// the temp object `<rootdirectory>/uploads/<id>`. Appended bytes are cut into parts of
// storage.s3.chunksize (S3 wants at least 5 MiB for every part but the last), each sent with its
// x-amz-checksum-sha256 while the next one is read, so memory stays at about two parts per
// upload whatever the blob's size. What is left over at the end of a request (less than a part)
// waits in a tail object until the next request or the commit.
//
// Everything an upload needs lives in the bucket, so each request of one upload may land on a
// different replica (layout.ts draws the keys): its state `uploads/<id>.json` (the S3 upload
// id, the parts sent with their ETags and checksums, the tail's generation and size) and its
// tail `uploads/<id>.<generation>.tail`, a new generation per request. A request's bytes count
// only once the state naming them is written (S3 reads are strongly consistent after a write,
// on AWS since 2020 and on MinIO, Ceph RGW, R2), so a stream that fails (or a crash) leaves the
// upload as it was, and the client resumes from the size it is told, on any replica. Parts sent
// by a failed request are overwritten by the next one. The registry serializes the requests of
// one upload across replicas (oci/uploads.ts claims its session row), so no two write at once.
//
// Bytes an upload's state names are never rewritten (new parts take the next numbers, a new
// tail is a new generation holding the old one's bytes), so a running sha256 this process kept
// for the first n bytes is still true whenever the upload holds n bytes: a replica that saw
// every byte commits without reading the blob back; one that did not (another replica took some
// chunks, or a restart) completes first and reads the object back to hash it.
//
// The commit verifies the sha256, then completes the multipart upload (or, for a blob smaller
// than a part, puts the object with its full x-amz-checksum-sha256) and hands the temp object to
// the blob store to copy into place. A commit may carry the upload's last chunk (the PUT that
// closes an upload, which most clients send with the whole blob): its tail then goes straight
// into the object without being written as a tail and a state first. Cancelling aborts the
// multipart upload and removes the temp object, the tails and the state.

import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3'
import { createHash, type Hash } from 'node:crypto'
import type { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import { isRegistryError, RegistryError } from '../errors.js'
import { isJsonObject } from '../json.js'
import { LruMap } from '../lru.js'
import { assertDigest, digestOfStream, verifyExpectation } from './digest.js'
import { parseUploadKey, uploadStateKey, uploadTailKey } from './layout.js'
import type { S3BlobStore } from './s3.js'
import type { BlobInfo, StagedBlob } from './types.js'
import { checkOffset, type ChunkExpectation, type CommitExpectation, ENTRY_NAME, type FinalChunk, RUNNING_HASHES_KEPT, type StagedEntry, unknownUpload, type UploadStaging, wrongLength } from './uploads.js'

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
  /** Generation of the tail object `<id>.<tail>.tail`, which holds the bytes after the parts. */
  tail: number
  tailSize: number
  /** The multipart upload was completed into the temp object (by a commit whose digest did not match, or that failed after). */
  assembled: boolean
}

interface RunningHash {
  hash: Hash
  size: number
}

/** What one request's bytes made, before anything names them. */
interface Received {
  uploadId: string | null
  /** The parts this request sent. */
  sent: Part[]
  /** The bytes after the last full part (the old tail's included). */
  tail: Buffer
  /** The running hash over every byte, when this process saw them all. */
  hash: Hash | null
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

/**
 * An upload whose objects in the bucket do not agree (changed by hand, or by a bug): the client
 * hears it and starts over, and a cancel or a purge still removes what is there.
 */
function damagedUpload(id: string, what: string): RegistryError {
  return new RegistryError('BLOB_UPLOAD_INVALID', `blob upload ${id} is damaged in storage (${what}); cancel it (DELETE its Location) and start again`, { uuid: id })
}

function isDamaged(err: unknown): boolean {
  return isRegistryError(err) && err.code === 'BLOB_UPLOAD_INVALID'
}

function parseState(text: string, id: string, key: string): UploadState {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    value = null
  }
  if (!isJsonObject(value) || !Array.isArray(value.parts) || typeof value.tail !== 'number' || typeof value.tailSize !== 'number') {
    throw damagedUpload(id, `${key} is not an upload state`)
  }
  return value as unknown as UploadState
}

export class S3UploadStaging implements UploadStaging {
  /** sha256 of each upload's bytes as this process received them (see the header). */
  private readonly running = new LruMap<string, RunningHash>(RUNNING_HASHES_KEPT)

  constructor(private readonly store: S3BlobStore) {}

  private checkId(id: string): void {
    if (!ENTRY_NAME.test(id)) throw unknownUpload(id)
  }

  private stateKey(id: string): string {
    return uploadStateKey(this.store.layout, id)
  }

  private tailKey(id: string, generation: number): string {
    return uploadTailKey(this.store.layout, id, generation)
  }

  /** Encryption as for blobs, but no storage class: these objects are small and live minutes. */
  private smallObjectParams() {
    const { StorageClass: _unused, ...params } = this.store.objectParams()
    return params
  }

  private async putKey(key: string, body: Buffer | string, operation: string): Promise<void> {
    await this.store.call(operation, () =>
      this.store.client.send(new PutObjectCommand({ Bucket: this.store.bucket, Key: key, Body: body, ContentLength: Buffer.byteLength(body), ...this.smallObjectParams() })),
    )
  }

  /** Removes a key of ours without looking first (S3 answers a delete of a missing key with success). */
  private async removeKey(key: string, operation: string): Promise<void> {
    await this.store.call(operation, () => this.store.client.send(new DeleteObjectCommand({ Bucket: this.store.bucket, Key: key })))
  }

  private async load(id: string): Promise<UploadState | null> {
    this.checkId(id)
    const key = this.stateKey(id)
    const stream = await this.store.openKey(key, undefined, `read the state of upload ${id}`)
    return stream ? parseState((await buffer(stream)).toString('utf8'), id, key) : null
  }

  private async loadExisting(id: string): Promise<UploadState> {
    const state = await this.load(id)
    if (!state) throw unknownUpload(id)
    return state
  }

  private async save(id: string, state: UploadState): Promise<void> {
    await this.putKey(this.stateKey(id), JSON.stringify(state), `record the state of upload ${id}`)
  }

  async create(id: string): Promise<void> {
    this.checkId(id)
    await this.save(id, { uploadId: null, parts: [], tail: 0, tailSize: 0, assembled: false })
  }

  async size(id: string): Promise<number> {
    return sizeOf(await this.loadExisting(id))
  }

  private async readTail(id: string, state: UploadState): Promise<Buffer> {
    if (state.tailSize === 0) return Buffer.alloc(0)
    const stream = await this.store.openKey(this.tailKey(id, state.tail), undefined, `read the last bytes of upload ${id}`)
    const data = stream ? await buffer(stream) : Buffer.alloc(0)
    if (data.length < state.tailSize) throw damagedUpload(id, `its last bytes hold ${data.length} bytes where its state says ${state.tailSize}`)
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
    const received = await this.receive(id, state, source, expected)
    const next = this.after(state, received)
    if (received.tail.length > 0) await this.putKey(this.tailKey(id, next.tail), received.tail, `store the last bytes of upload ${id}`)
    await this.save(id, next)
    // The new tail holds the old one's bytes; a leftover would only be listed and purged.
    if (state.tailSize > 0) await this.removeKey(this.tailKey(id, state.tail), `remove the old last bytes of upload ${id}`).catch(() => undefined)
    const size = sizeOf(next)
    if (received.hash) this.running.set(id, { hash: received.hash, size })
    else this.running.delete(id)
    return size
  }

  /** The state once `received` counts (not written). */
  private after(state: UploadState, received: Received): UploadState {
    return { uploadId: received.uploadId, parts: [...state.parts, ...received.sent], tail: state.tail + 1, tailSize: received.tail.length, assembled: false }
  }

  /**
   * Reads `source` after the upload's bytes: sends every full part, keeps the rest in memory.
   * Nothing names what it sent until the caller writes a state (or completes the upload).
   */
  private async receive(id: string, state: UploadState, source: Readable, expected: ChunkExpectation): Promise<Received> {
    if (state.assembled) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', `blob upload ${id} was already assembled by a commit that did not finish; finish it without a body, or cancel it and start again`, { uuid: id })
    }
    const start = sizeOf(state)
    // The source is left unread on a bad offset, so the client still hears the 416.
    checkOffset(expected, start)
    const partSize = this.store.settings.partSize
    const known = this.running.get(id)
    // From the first byte every replica can hash; past it, only one that saw every byte.
    const hash = known?.size === start ? known.hash.copy() : start === 0 ? createHash('sha256') : null
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
        hash?.update(chunk)
        await take(chunk)
      }
      if (expected.length !== undefined && received !== expected.length) throw wrongLength(received, expected.length)
      await sending
    } catch (err) {
      await sending?.catch(() => undefined)
      throw err
    }
    return { uploadId, sent, tail: filling.subarray(0, filled), hash }
  }

  private async startMultipart(id: string): Promise<string> {
    const created = await this.store.call(`start multipart upload ${id}`, () =>
      this.store.client.send(new CreateMultipartUploadCommand({ Bucket: this.store.bucket, Key: this.store.uploadKey(id), ChecksumAlgorithm: 'SHA256', ...this.store.objectParams() })),
    )
    if (!created.UploadId) throw this.store.unavailable(`start multipart upload ${id}`, new Error('no UploadId in the answer'))
    return created.UploadId
  }

  /**
   * Makes the temp object hold every byte: the last part and CompleteMultipartUpload, or one PUT.
   * A completed multipart upload cannot be continued, so that is recorded; one PUT is simply
   * made again by the next attempt.
   */
  private async assemble(id: string, state: UploadState, tail: Buffer, digest: string | null): Promise<void> {
    const key = this.store.uploadKey(id)
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
      return
    }
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
    await this.save(id, { ...state, uploadId: null, assembled: true })
  }

  async commit(id: string, expected: CommitExpectation, last?: FinalChunk): Promise<StagedBlob> {
    assertDigest(expected.digest)
    const before = await this.loadExisting(id)
    let state = before
    let tail: Buffer
    let hash: Hash | null
    if (last) {
      const received = await this.receive(id, before, last.source, last.chunk)
      state = this.after(before, received)
      tail = received.tail
      hash = received.hash
    } else {
      const known = this.running.get(id)
      hash = known?.size === sizeOf(state) ? known.hash.copy() : null
      tail = state.assembled ? Buffer.alloc(0) : await this.readTail(id, state)
    }
    // The tail objects that exist: the last chunk's bytes are written only when recorded.
    let tails = before.tailSize > 0 ? [before.tail] : []
    const record = async () => {
      await this.record(id, before, state, tail)
      tails = tail.length > 0 ? [state.tail] : []
    }
    const size = sizeOf(state)
    let info: BlobInfo
    if (!state.assembled && hash) {
      info = { digest: `sha256:${hash.digest('hex')}`, size }
      try {
        verifyExpectation(info, expected)
      } catch (err) {
        // Left for the caller to cancel, with this request's bytes, as an append would.
        if (last) await record()
        throw err
      }
      await this.assemble(id, state, tail, info.digest)
    } else {
      if (!state.assembled) {
        await this.assemble(id, state, tail, null)
        // One PUT is not recorded by assemble: what the read back finds must still be what the state says.
        if (last && state.uploadId === null) await record()
      }
      const stream = await this.store.openKey(this.store.uploadKey(id), undefined, `read back upload ${id}`)
      if (!stream) throw unknownUpload(id)
      info = await digestOfStream(stream)
      verifyExpectation(info, expected)
    }
    this.running.delete(id)
    return this.store.stagedObject(this.store.uploadKey(id), info, () => this.remove(id, tails))
  }

  /** Writes what a commit received, as an append would have. */
  private async record(id: string, before: UploadState, state: UploadState, tail: Buffer): Promise<void> {
    if (tail.length > 0) await this.putKey(this.tailKey(id, state.tail), tail, `store the last bytes of upload ${id}`)
    await this.save(id, state)
    if (before.tailSize > 0) await this.removeKey(this.tailKey(id, before.tail), `remove the old last bytes of upload ${id}`).catch(() => undefined)
  }

  /** After a commit: the temp object, the tails it knows of and the state, without listing. */
  private async remove(id: string, tails: number[]): Promise<void> {
    await this.removeKey(this.store.uploadKey(id), `remove upload ${id}`)
    for (const generation of tails) await this.removeKey(this.tailKey(id, generation), `remove the last bytes of upload ${id}`)
    await this.removeKey(this.stateKey(id), `remove the state of upload ${id}`)
  }

  async cancel(id: string): Promise<boolean> {
    this.checkId(id)
    this.running.delete(id)
    const state = await this.load(id).catch((err: unknown) => {
      if (isDamaged(err)) return null
      throw err
    })
    if (state?.uploadId) await this.store.abortMultipart(this.store.uploadKey(id), state.uploadId)
    let removed = await this.store.deleteKey(this.store.uploadKey(id))
    // Every generation, leftovers of requests cut short included.
    for await (const object of this.store.listKeys(`${this.store.uploadKey(id)}.`)) {
      if (parseUploadKey(this.store.layout, object.key)?.kind !== 'tail') continue
      await this.removeKey(object.key, `remove the last bytes of upload ${id}`)
      removed = true
    }
    // The state goes last: a cancel cut short leaves an entry that list() still shows.
    return (await this.store.deleteKey(this.stateKey(id))) || removed
  }

  /**
   * Uploads by their state (size, and the state's last write), then what no state accounts for:
   * temp objects of interrupted puts or multipart objects, and tails left behind, by the id
   * whose cancel removes them.
   */
  async *list(): AsyncIterable<StagedEntry> {
    const states = new Map<string, number>()
    const others = new Map<string, StagedEntry>()
    for await (const object of this.store.listKeys(this.store.uploadKey(''))) {
      const parsed = parseUploadKey(this.store.layout, object.key)
      if (!parsed || !ENTRY_NAME.test(parsed.id)) continue
      if (parsed.kind === 'state') {
        states.set(parsed.id, object.modifiedAt)
        continue
      }
      const seen = others.get(parsed.id)
      others.set(parsed.id, { id: parsed.id, size: (seen?.size ?? 0) + object.size, modifiedAt: Math.max(seen?.modifiedAt ?? 0, object.modifiedAt) })
    }
    const entries: StagedEntry[] = []
    for (const [id, modifiedAt] of states) {
      // A damaged state is listed with no size, for a purge to cancel.
      const state = await this.load(id).catch((err: unknown) => {
        if (isDamaged(err)) return { uploadId: null, parts: [], tail: 0, tailSize: 0, assembled: false }
        throw err
      })
      // Gone since the listing (finished or cancelled meanwhile): what it left is listed next time.
      if (state) entries.push({ id, size: sizeOf(state), modifiedAt })
    }
    for (const [id, entry] of others) if (!states.has(id)) entries.push(entry)
    for (const entry of entries.sort((a, b) => (a.id < b.id ? -1 : 1))) yield entry
  }
}
