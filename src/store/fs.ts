// Filesystem blob store: `<root>/blobs/sha256/<2 hex>/<64 hex>`. A put streams into
// `<root>/uploads/put-<uuid>` while hashing, verifies, fsyncs the file, then links it into
// place (link fails on an existing name, so a blob is never overwritten), fsyncs the directory
// and removes the temp name in `finally`. A crash at any point leaves at most a temp file,
// which upload purging removes; a visible blob is always complete.

import { randomUUID } from 'node:crypto'
import { createReadStream, constants as fsConstants } from 'node:fs'
import { access, type FileHandle, link, mkdir, open, readdir, stat, unlink, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { RegistryError } from '../errors.js'
import { assertDigest, HashingStream, verifyExpectation } from './digest.js'
import type { BlobInfo, BlobStore, ByteRange, PutExpectation } from './types.js'

export const PUT_TEMP_PREFIX = 'put-'

export class FilesystemBlobStore implements BlobStore {
  readonly blobsDir: string
  readonly uploadsDir: string

  constructor(readonly root: string) {
    this.blobsDir = join(root, 'blobs', 'sha256')
    this.uploadsDir = join(root, 'uploads')
  }

  /** Creates the directories; call once before use. */
  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true })
    await mkdir(this.uploadsDir, { recursive: true })
  }

  pathOf(digest: string): string {
    assertDigest(digest)
    const hex = digest.slice('sha256:'.length)
    return join(this.blobsDir, hex.slice(0, 2), hex)
  }

  async stat(digest: string): Promise<BlobInfo | null> {
    try {
      const st = await stat(this.pathOf(digest))
      return { digest, size: st.size }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw err
    }
  }

  async open(digest: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(digest)
    const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not stored`, { digest })
      throw err
    })
    return createReadStream('', { fd: fh, highWaterMark: READ_CHUNK_BYTES, ...(range ? { start: range.start, end: range.end } : {}) })
  }

  async put(source: Readable, expected: PutExpectation = {}): Promise<BlobInfo> {
    // The source may fail while the temp file is being opened, before the pipeline listens:
    // that error must not go unhandled (the pipeline then reports it from source.errored).
    source.on('error', ignoreEarlyError)
    if (expected.digest !== undefined) assertDigest(expected.digest)
    const temp = join(this.uploadsDir, `${PUT_TEMP_PREFIX}${randomUUID()}`)
    try {
      const hashing = new HashingStream(expected.maxSize)
      const fh = await open(temp, 'wx', 0o644)
      try {
        await pipeline(source, hashing, writeTo(fh))
        await fh.sync()
      } finally {
        await fh.close()
      }
      const info = { digest: hashing.digest(), size: hashing.size }
      verifyExpectation(info, expected)
      await this.linkIntoPlace(temp, info.digest)
      return info
    } catch (err) {
      source.destroy()
      throw err
    } finally {
      await unlink(temp).catch(() => undefined)
    }
  }

  /**
   * Moves a verified temp file to its content address (used by put and by upload sessions).
   * When the blob is already there its mtime is refreshed: garbage collection only removes
   * unreferenced blobs older than its grace period, so a blob about to be referenced again
   * must look new. If collection removed it in between, the temp file is linked after all.
   */
  async linkIntoPlace(temp: string, digest: string): Promise<void> {
    const target = this.pathOf(digest)
    const dir = join(target, '..')
    for (let attempt = 0; attempt < 3; attempt++) {
      await mkdir(dir, { recursive: true })
      try {
        await link(temp, target)
        await fsyncDir(dir)
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const now = new Date()
      try {
        await utimes(target, now, now)
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
    }
    throw new Error(`could not place blob ${digest}: it kept disappearing (is garbage collection running with a zero grace period?)`)
  }

  async delete(digest: string): Promise<boolean> {
    try {
      await unlink(this.pathOf(digest))
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw err
    }
  }

  async *list(): AsyncIterable<BlobInfo> {
    const prefixes = await readdir(this.blobsDir).catch(() => [] as string[])
    for (const prefix of prefixes.sort()) {
      const names = await readdir(join(this.blobsDir, prefix)).catch(() => [] as string[])
      for (const name of names.sort()) {
        if (!/^[a-f0-9]{64}$/.test(name)) continue
        const st = await stat(join(this.blobsDir, prefix, name)).catch(() => null)
        if (st?.isFile()) yield { digest: `sha256:${name}`, size: st.size }
      }
    }
  }

  async check(): Promise<void> {
    await access(this.blobsDir, fsConstants.R_OK | fsConstants.W_OK)
    await access(this.uploadsDir, fsConstants.R_OK | fsConstants.W_OK)
  }
}

function ignoreEarlyError(): void {}

/** Socket reads arrive in ~64 KiB pieces; writing them 1 MiB at a time saves syscalls. */
export const WRITE_BATCH_BYTES = 1 << 20
/** Reads are served in pieces this large (Node's 64 KiB default costs a third of the throughput). */
export const READ_CHUNK_BYTES = 1 << 20

/**
 * Writes chunks at `position` onwards in batches of about WRITE_BATCH_BYTES; `onWrite` sees
 * each chunk first (to hash or count it, or to refuse it by throwing). Returns the position
 * after the last byte.
 */
export async function writeBatched(fh: FileHandle, chunks: AsyncIterable<Buffer>, position: number, onWrite?: (chunk: Buffer) => void): Promise<number> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  const flush = async () => {
    if (pendingBytes === 0) return
    const data = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes)
    pending = []
    pendingBytes = 0
    await fh.write(data, 0, data.length, position)
    position += data.length
  }
  for await (const chunk of chunks) {
    onWrite?.(chunk)
    pending.push(chunk)
    pendingBytes += chunk.length
    if (pendingBytes >= WRITE_BATCH_BYTES) await flush()
  }
  await flush()
  return position
}

/** A pipeline sink writing into an open file we still need afterwards (to fsync it). */
export function writeTo(fh: FileHandle) {
  return async (chunks: AsyncIterable<Buffer>): Promise<void> => {
    await writeBatched(fh, chunks, 0)
  }
}

/** Makes a rename/link durable: the directory entry itself must reach the disk. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}
