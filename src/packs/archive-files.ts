// Reading any gzip tar a pack version holds, for the pack browser: the files in it, or the first
// bytes of one file. Both are passes of inflateTar, so every archive limit applies (compressed
// and unpacked size, compression ratio, data after the end), with the push's entry rules
// (checkEntry: no links, no `..`, no devices) and its entry count and unpacked-size budget.
// They serve archives that were checked at push (the pack's own) and archives that never were
// (the charts inside a pack), so a hostile archive ends in an ARCHIVE_INVALID error naming the
// limit, never in unbounded work. A read stops as soon as it has its bytes.

import type { Readable } from 'node:stream'
import type { Header } from 'tar-stream'
import { type ArchiveLimits, checkEntry, drain, inflateTar, type SafeEntry, tooManyEntries, unpackedTooLarge } from './archive-read.js'

export interface TarListing {
  /** the first `maxListed` files, in archive order */
  files: Array<{ path: string; size: number }>
  /** every file in the archive */
  total: number
  unpackedSize: number
}

export interface TarFileHead {
  size: number
  /** the file's first bytes (all of them unless `truncated`) */
  data: Buffer
  truncated: boolean
}

type EntryStream = AsyncIterable<unknown> & Pick<Readable, 'resume' | 'on'>

/** The push's per-entry budget: entries counted, unpacked sizes summed, unsafe entries refused. */
class EntryBudget {
  private entries = 0
  unpacked = 0

  constructor(private readonly limits: ArchiveLimits) {}

  /** The entry's safe path and kind, or undefined for the bare `./` folder. */
  admit(header: Header): SafeEntry | undefined {
    this.entries++
    if (this.entries > this.limits.maxEntries) throw tooManyEntries(header.name, this.limits.maxEntries)
    const safe = checkEntry(header)
    if (safe?.kind === 'file') {
      this.unpacked += header.size ?? 0
      if (this.unpacked > this.limits.maxUnpackedBytes) throw unpackedTooLarge(this.limits.maxUnpackedBytes, header.name)
    }
    return safe
  }
}

/** The files of a gzip tar (folders left out), the first `maxListed` of them in archive order. */
export async function listTar(source: Readable, limits: ArchiveLimits, maxListed: number): Promise<TarListing> {
  const budget = new EntryBudget(limits)
  const files: TarListing['files'] = []
  let total = 0
  await inflateTar(source, limits, async (header, stream) => {
    const safe = budget.admit(header)
    if (safe?.kind !== 'file') return 'next'
    total++
    if (files.length < maxListed) files.push({ path: safe.path, size: header.size ?? 0 })
    // tar-stream does not wait for an empty entry's stream.
    if ((header.size ?? 0) > 0) await drain(stream)
    return 'next'
  })
  return { files, total, unpackedSize: budget.unpacked }
}

/**
 * The first `maxBytes` of the file at `path` (a normalised path, as checkEntry makes it) in a
 * gzip tar, or null when the archive has no such file. Entries before it are checked and
 * counted as a push would; the pass stops at the file.
 */
export async function readTarFile(source: Readable, limits: ArchiveLimits, path: string, maxBytes: number): Promise<TarFileHead | null> {
  const budget = new EntryBudget(limits)
  let found: TarFileHead | null = null
  await inflateTar(source, limits, async (header, stream) => {
    const safe = budget.admit(header)
    const size = header.size ?? 0
    if (safe?.kind !== 'file' || safe.path !== path) {
      if (safe?.kind === 'file' && size > 0) await drain(stream)
      return 'next'
    }
    const data = size === 0 ? Buffer.alloc(0) : await readHead(stream, maxBytes)
    found = { size, data, truncated: size > data.length }
    return 'stop'
  })
  return found
}

/**
 * Up to `max` bytes of an entry. The rest is left unread and the stream paused: the pass is
 * stopped next, which ends the extractor (breaking out of the entry's iterator would instead
 * destroy it, and the extractor with it, as a failure).
 */
function readHead(stream: EntryStream, max: number): Promise<Buffer> {
  const entry = stream as EntryStream & Pick<Readable, 'pause' | 'off'>
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let length = 0
    const finish = () => {
      entry.off('data', onData)
      entry.pause()
      resolve(Buffer.concat(chunks).subarray(0, max))
    }
    const onData = (chunk: Buffer) => {
      chunks.push(chunk)
      length += chunk.length
      if (length >= max) finish()
    }
    entry.on('data', onData)
    entry.on('end', finish)
    entry.on('error', reject)
  })
}
