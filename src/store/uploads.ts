// Upload staging: where the bytes of a chunked (resumable) blob upload wait between requests,
// next to the BlobStore they end up in. The filesystem staging keeps `<root>/uploads/<id>`,
// hashes bytes as they are appended (re-hashing the file when it did not see them all), and
// commits by verifying, fsyncing and linking it into place,
// so a crash never leaves a partial blob visible; the in-memory staging feeds the in-memory
// store. Both pass test/store/uploads-conformance.ts. Staging knows nothing of HTTP or
// sessions' owners; the registry keeps those in upload_sessions, and serializes the requests
// of one upload across processes (oci/uploads.ts), so a staging never sees two at once.
//
// Several replicas may share one filesystem root (an NFS or RWX volume), each request of an
// upload landing on any of them. The file is the whole truth: its size is read from the file
// at every request (NFS's close-to-open consistency makes an open see what the last writer
// closed), and the bytes below the size a successful append left are never rewritten (appends
// write only after the size they found, and a failed one truncates back to that size). So the
// running hash a process kept for the first n bytes is still true whenever the file holds
// exactly n bytes; when another process appended since, the sizes differ and the commit
// re-hashes the file.

import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { RegistryError } from '../errors.js'
import { LruMap } from '../lru.js'
import { assertDigest, digestOfStream, verifyExpectation } from './digest.js'
import { removeFile, unlessMissing } from '../files.js'
import { writeBatched } from './file-writes.js'
import { FilesystemBlobStore, READ_CHUNK_BYTES } from './fs.js'
import type { BlobInfo, BlobStore, StagedBlob } from './types.js'

export interface StagedEntry {
  id: string
  size: number
  /** Last write, in ms since the epoch. */
  modifiedAt: number
}

export interface ChunkExpectation {
  offset?: number | undefined
  length?: number | undefined
}

export interface CommitExpectation {
  digest: string
  size?: number | undefined
}

/** The last chunk, sent with the request that finishes the upload. */
export interface FinalChunk {
  source: Readable
  chunk: ChunkExpectation
}

export interface UploadStaging {
  /** Starts an empty upload under `id`. */
  create(id: string): Promise<void>
  /** Bytes staged so far; BLOB_UPLOAD_UNKNOWN when there is no such upload. */
  size(id: string): Promise<number>
  /**
   * Appends what `source` delivers and returns the new size. With `offset`, the upload must
   * hold exactly that many bytes already (else RANGE_INVALID, detail.size = what it holds);
   * with `length`, the source must deliver exactly that many (else BLOB_UPLOAD_INVALID).
   * A stream that fails leaves the upload as it was before the call.
   */
  append(id: string, source: Readable, chunk?: ChunkExpectation): Promise<number>
  /**
   * Appends `last` as append() would (a staging may skip writing down what it would at once
   * discard), hashes the staged bytes and verifies them against `expected`; the result places
   * them as a blob (and its discard() removes the upload). When verification fails the upload
   * is left, `last` included, for the caller to cancel; when `last` fails, as it was.
   */
  commit(id: string, expected: CommitExpectation, last?: FinalChunk): Promise<StagedBlob>
  /** Removes the upload (or any other entry list() showed); false when it was not there. */
  cancel(id: string): Promise<boolean>
  /** Every entry of the staging area, including temp files other writers left (for purging). */
  list(): AsyncIterable<StagedEntry>
}

/**
 * Running hashes a staging keeps, the most recently used: behind a load balancer an upload's
 * requests end on other replicas, which leaves hashes here nobody will finish (a forgotten one
 * only costs a commit that reads the bytes back).
 */
export const RUNNING_HASHES_KEPT = 1024

export function unknownUpload(id: string): RegistryError {
  return new RegistryError('BLOB_UPLOAD_UNKNOWN', `blob upload ${id} is not known (finished, cancelled or expired)`, { uuid: id })
}

export function checkOffset(expected: ChunkExpectation, size: number): void {
  if (expected.offset !== undefined && expected.offset !== size) {
    throw new RegistryError('RANGE_INVALID', `chunk starts at byte ${expected.offset} but the upload holds ${size} bytes; send the chunk that starts at ${size}`, { offset: expected.offset, size })
  }
}

export function wrongLength(received: number, length: number): RegistryError {
  return new RegistryError('BLOB_UPLOAD_INVALID', `the chunk was declared as ${length} bytes but ${received > length ? 'more' : received} arrived`, { declared: length })
}

// Entry names are UUIDs or the blob store's `put-<uuid>` temp names; anything else could
// escape the directory and is never touched.
export const ENTRY_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/

interface RunningHash {
  hash: Hash
  size: number
}

export class FilesystemUploadStaging implements UploadStaging {
  /**
   * sha256 of each upload's bytes as they were appended in this process, so a commit need
   * not read the file back. Missing after a restart, and of no use after an append it did not
   * see (the sizes differ, see the header): the commit then re-hashes the file.
   */
  private readonly running = new LruMap<string, RunningHash>(RUNNING_HASHES_KEPT)

  constructor(private readonly store: FilesystemBlobStore) {}

  private pathOf(id: string): string {
    if (!ENTRY_NAME.test(id)) throw unknownUpload(id)
    return join(this.store.uploadsDir, id)
  }

  private async openExisting(id: string, flags: string) {
    const fh = await unlessMissing(open(this.pathOf(id), flags))
    if (!fh) throw unknownUpload(id)
    return fh
  }

  async create(id: string): Promise<void> {
    const fh = await open(this.pathOf(id), 'wx', 0o644)
    await fh.close()
  }

  async size(id: string): Promise<number> {
    const st = await unlessMissing(stat(this.pathOf(id)))
    if (!st) throw unknownUpload(id)
    return st.size
  }

  async append(id: string, source: Readable, expected: ChunkExpectation = {}): Promise<number> {
    await this.store.reserve.ensure()
    const fh = await this.openExisting(id, 'r+')
    try {
      const start = (await fh.stat()).size
      // The source is left unread on a bad offset: destroying a request would drop the
      // connection before the client sees the 416.
      checkOffset(expected, start)
      const limit = expected.length === undefined ? Number.POSITIVE_INFINITY : start + expected.length
      const known = this.running.get(id)
      this.running.delete(id)
      // From the first byte every process can hash; past it, only one that saw every byte.
      const hashing = known?.size === start ? { hash: known.hash.copy(), size: start } : start === 0 ? { hash: createHash('sha256'), size: 0 } : null
      let received = start
      let position = start
      try {
        await pipeline(source, async (chunks: AsyncIterable<Buffer>) => {
          position = await writeBatched(fh, chunks, start, (chunk) => {
            received += chunk.length
            if (received > limit) throw wrongLength(received - start, expected.length as number)
            hashing?.hash.update(chunk)
          })
        })
        if (expected.length !== undefined && position !== limit) throw wrongLength(position - start, expected.length)
      } catch (err) {
        // All or nothing per request: the client resumes from the size it last saw.
        await fh.truncate(start)
        if (known?.size === start) this.running.set(id, known)
        throw err
      }
      if (hashing) this.running.set(id, { hash: hashing.hash, size: position })
      return position
    } finally {
      await fh.close()
    }
  }

  async commit(id: string, expected: CommitExpectation, last?: FinalChunk): Promise<StagedBlob> {
    assertDigest(expected.digest)
    if (last) await this.append(id, last.source, last.chunk)
    const path = this.pathOf(id)
    const fh = await this.openExisting(id, 'r+')
    let info: BlobInfo
    try {
      const size = (await fh.stat()).size
      const known = this.running.get(id)
      if (known?.size === size) {
        // Hashed as it was written by this process; a copy, so a failed verification keeps it.
        info = { digest: `sha256:${known.hash.copy().digest('hex')}`, size }
      } else {
        info = await digestOfStream(createReadStream('', { fd: fh, autoClose: false, start: 0, highWaterMark: READ_CHUNK_BYTES }))
      }
      verifyExpectation(info, expected)
      await fh.sync()
    } finally {
      await fh.close()
    }
    this.running.delete(id)
    return this.store.stagedFile(path, info)
  }

  async cancel(id: string): Promise<boolean> {
    this.running.delete(id)
    return removeFile(this.pathOf(id))
  }

  async *list(): AsyncIterable<StagedEntry> {
    const names = await readdir(this.store.uploadsDir)
    for (const name of names.sort()) {
      if (!ENTRY_NAME.test(name)) continue
      const st = await stat(join(this.store.uploadsDir, name)).catch(() => null)
      if (st?.isFile()) yield { id: name, size: st.size, modifiedAt: st.mtimeMs }
    }
  }
}

interface MemoryEntry {
  chunks: Buffer[]
  size: number
  modifiedAt: number
}

export class MemoryUploadStaging implements UploadStaging {
  private readonly entries = new Map<string, MemoryEntry>()

  constructor(private readonly store: BlobStore) {}

  private get(id: string): MemoryEntry {
    const entry = this.entries.get(id)
    if (!entry) throw unknownUpload(id)
    return entry
  }

  async create(id: string): Promise<void> {
    if (this.entries.has(id)) throw new Error(`upload ${id} already exists`)
    this.entries.set(id, { chunks: [], size: 0, modifiedAt: Date.now() })
  }

  async size(id: string): Promise<number> {
    return this.get(id).size
  }

  async append(id: string, source: Readable, expected: ChunkExpectation = {}): Promise<number> {
    const entry = this.get(id)
    checkOffset(expected, entry.size)
    // Collected aside and added only once the stream ended: a failed stream changes nothing.
    const received: Buffer[] = []
    let count = 0
    for await (const chunk of source) {
      count += (chunk as Buffer).length
      if (expected.length !== undefined && count > expected.length) throw wrongLength(count, expected.length)
      received.push(chunk as Buffer)
    }
    if (expected.length !== undefined && count !== expected.length) throw wrongLength(count, expected.length)
    for (const chunk of received) {
      entry.chunks.push(chunk)
      entry.size += chunk.length
    }
    entry.modifiedAt = Date.now()
    return entry.size
  }

  async commit(id: string, expected: CommitExpectation, last?: FinalChunk): Promise<StagedBlob> {
    assertDigest(expected.digest)
    if (last) await this.append(id, last.source, last.chunk)
    const entry = this.get(id)
    const staged = await this.store.stage(Readable.from(entry.chunks), expected)
    this.entries.delete(id)
    return staged
  }

  async cancel(id: string): Promise<boolean> {
    return this.entries.delete(id)
  }

  async *list(): AsyncIterable<StagedEntry> {
    for (const [id, entry] of [...this.entries].sort(([a], [b]) => (a < b ? -1 : 1))) {
      yield { id, size: entry.size, modifiedAt: entry.modifiedAt }
    }
  }
}

/** The staging that belongs to `store`: on disk beside a filesystem store, else in memory. */
export function openUploadStaging(store: BlobStore): UploadStaging {
  return store instanceof FilesystemBlobStore ? new FilesystemUploadStaging(store) : new MemoryUploadStaging(store)
}
