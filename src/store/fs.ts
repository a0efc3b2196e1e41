// Filesystem blob store: `<root>/blobs/sha256/<2 hex>/<64 hex>`. A write streams into
// `<root>/uploads/put-<uuid>` while hashing, writes every byte (short writes are retried),
// verifies digest, size and the size on disk, fsyncs the file (stage), then links it into
// place (place: link fails on an existing name, so a good blob is never overwritten), fsyncs
// the directory, and the temp name is removed whatever happens. A crash at any point leaves at
// most a temp file, which upload purging removes; a visible blob is always complete. A full
// disk is a typed 507 naming how much the write needed.

import { randomUUID } from 'node:crypto'
import { createReadStream, constants as fsConstants } from 'node:fs'
import { access, link, mkdir, open, readdir, rename, stat, unlink, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { isStorageFull, RegistryError, storageFull } from '../errors.js'
import { assertDigest, HashingStream, verifyExpectation } from './digest.js'
import { blobPath, PUT_TEMP_PREFIX, type RootLayout, rootLayout } from './layout.js'
import { SpaceReserve } from './reserve.js'
import { fsyncDir, removeFile, unlessMissing } from '../files.js'
import { checkWritten, writeTo } from './file-writes.js'
import type { BlobInfo, BlobStore, ByteRange, PutExpectation, StagedBlob, StoredBlob } from './types.js'

export class FilesystemBlobStore implements BlobStore {
  readonly layout: RootLayout
  readonly blobsDir: string
  readonly uploadsDir: string
  /** Released when a metadata write meets a full disk; every blob write makes it whole first. */
  readonly reserve: SpaceReserve

  constructor(readonly root: string) {
    this.layout = rootLayout(root)
    this.blobsDir = this.layout.blobs
    this.uploadsDir = this.layout.uploads
    this.reserve = new SpaceReserve(this.layout.reservedSpace)
  }

  /** Creates the directories and the space reserve (if there is room); call once before use. */
  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true })
    await mkdir(this.uploadsDir, { recursive: true })
    // A full disk must not stop the registry from starting: reads and deletes still work.
    await this.reserve.ensure().catch(() => undefined)
  }

  pathOf(digest: string): string {
    assertDigest(digest)
    return blobPath(this.layout, digest.slice('sha256:'.length))
  }

  async stat(digest: string): Promise<BlobInfo | null> {
    const st = await unlessMissing(stat(this.pathOf(digest)))
    return st && { digest, size: st.size }
  }

  async open(digest: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(digest)
    const fh = await unlessMissing(open(path, 'r'))
    if (!fh) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not stored`, { digest })
    // Read buffers as large as what is read, up to READ_CHUNK_BYTES: a 1 MiB buffer for every
    // small manifest layer or pack file was most of the garbage the collector had to clear.
    const length = range ? range.end - range.start + 1 : (await fh.stat()).size
    const highWaterMark = Math.max(1, Math.min(length, READ_CHUNK_BYTES))
    return createReadStream('', { fd: fh, highWaterMark, ...(range ? { start: range.start, end: range.end } : {}) })
  }

  async stage(source: Readable, expected: PutExpectation = {}): Promise<StagedBlob> {
    // The source may fail while the temp file is being opened, before the pipeline listens:
    // that error must not go unhandled (the pipeline then reports it from source.errored).
    source.on('error', ignoreEarlyError)
    if (expected.digest !== undefined) assertDigest(expected.digest)
    const temp = join(this.uploadsDir, `${PUT_TEMP_PREFIX}${randomUUID()}`)
    const hashing = new HashingStream(expected.maxSize)
    try {
      await this.reserve.ensure()
      const fh = await open(temp, 'wx', 0o644)
      try {
        await pipeline(source, hashing, writeTo(fh))
        await fh.sync()
        await checkWritten(fh, hashing.size)
      } finally {
        await fh.close()
      }
      const info = { digest: hashing.digest(), size: hashing.size }
      verifyExpectation(info, expected)
      return this.stagedFile(temp, info)
    } catch (err) {
      source.destroy()
      await unlink(temp).catch(() => undefined)
      if (isStorageFull(err)) throw storageFull(Math.max(expected.size ?? 0, hashing.size))
      throw err
    }
  }

  /** A verified file (a put's temp file or a finished upload) as a StagedBlob. */
  stagedFile(path: string, info: BlobInfo): StagedBlob {
    return {
      ...info,
      place: () => this.placeFile(path, info),
      discard: async () => {
        await removeFile(path)
      },
    }
  }

  /**
   * Moves a verified file to its content address. A blob already there of the right size is
   * kept and its mtime refreshed (garbage collection measures its grace period from it); one
   * of the wrong size, which only damage makes, is atomically replaced by the verified file.
   * If collection removed the blob between our look and our link, the link is tried again.
   */
  private async placeFile(path: string, info: BlobInfo): Promise<void> {
    const target = this.pathOf(info.digest)
    const dir = join(target, '..')
    for (let attempt = 0; attempt < 3; attempt++) {
      await mkdir(dir, { recursive: true })
      try {
        await link(path, target)
        await fsyncDir(dir)
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const existing = await unlessMissing(stat(target))
      if (existing === null) continue
      if (existing.size !== info.size) {
        await rename(path, target)
        await fsyncDir(dir)
        return
      }
      const now = new Date()
      if ((await unlessMissing(utimes(target, now, now))) !== null) return
    }
    throw new Error(`could not place blob ${info.digest}: it kept disappearing while garbage collection ran`)
  }

  async delete(digest: string): Promise<boolean> {
    return removeFile(this.pathOf(digest))
  }

  async *list(): AsyncIterable<StoredBlob> {
    const prefixes = await readdir(this.blobsDir).catch(() => [] as string[])
    for (const prefix of prefixes.sort()) {
      const names = await readdir(join(this.blobsDir, prefix)).catch(() => [] as string[])
      for (const name of names.sort()) {
        if (!/^[a-f0-9]{64}$/.test(name)) continue
        const st = await stat(join(this.blobsDir, prefix, name)).catch(() => null)
        if (st?.isFile()) yield { digest: `sha256:${name}`, size: st.size, modifiedAt: st.mtimeMs }
      }
    }
  }

  async check(): Promise<void> {
    await access(this.blobsDir, fsConstants.R_OK | fsConstants.W_OK)
    await access(this.uploadsDir, fsConstants.R_OK | fsConstants.W_OK)
  }
}

/** Reads are served in pieces this large (Node's 64 KiB default costs a third of the throughput). */
export const READ_CHUNK_BYTES = 1 << 20

function ignoreEarlyError(): void {}

