// Writing files durably, shared by the blob store, upload staging and the space reserve: every
// byte written (a short write is continued, a write that stores nothing is a full disk), the
// size on disk checked against what was hashed, and directory entries fsynced after a link.

import type { FileHandle } from 'node:fs/promises'

/** Socket reads arrive in ~64 KiB pieces; writing them 1 MiB at a time saves syscalls. */
export const WRITE_BATCH_BYTES = 1 << 20

/**
 * Writes all of `data` at `position`: a write may store fewer bytes than asked (a full disk
 * does that before it fails), so it loops until every byte is written or the write fails.
 */
export async function writeFully(fh: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done)
    if (bytesWritten === 0) throw Object.assign(new Error(`no space to write ${data.length - done} more bytes`), { code: 'ENOSPC' })
    done += bytesWritten
  }
}

/** The file must hold exactly what was hashed before it may be linked anywhere. */
export async function checkWritten(fh: FileHandle, size: number): Promise<void> {
  const onDisk = (await fh.stat()).size
  if (onDisk !== size) throw new Error(`wrote ${size} bytes but the file holds ${onDisk}; refusing to store it`)
}

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
    // One gathered write (writev) rather than copying the chunks into one buffer first.
    await writeAllFully(fh, pending, position)
    position += pendingBytes
    pending = []
    pendingBytes = 0
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

/** writeFully for several buffers, written in order from `position` with gathered writes. */
export async function writeAllFully(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let rest = buffers.filter((b) => b.length > 0)
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest, position)
    if (bytesWritten === 0) throw Object.assign(new Error(`no space to write ${rest.reduce((sum, b) => sum + b.length, 0)} more bytes`), { code: 'ENOSPC' })
    position += bytesWritten
    // A short write: drop the buffers it wrote whole, and the written head of the next one.
    let skip = bytesWritten
    while (rest.length > 0 && skip >= (rest[0] as Buffer).length) skip -= (rest.shift() as Buffer).length
    if (skip > 0) rest[0] = (rest[0] as Buffer).subarray(skip)
  }
}

/** A pipeline sink writing into an open file we still need afterwards (to fsync it). */
export function writeTo(fh: FileHandle) {
  return async (chunks: AsyncIterable<Buffer>): Promise<void> => {
    await writeBatched(fh, chunks, 0)
  }
}


