// Tars built entry by entry with tar-stream, so any header (even a hostile one: links,
// devices, `../` paths) can be made for the archive tests.

import { buffer as collect } from 'node:stream/consumers'
import { gzipSync } from 'node:zlib'
import { pack as tarPack, type Header } from 'tar-stream'

export type HandEntry = Partial<Header> & { name: string; content?: string | Buffer }

export async function handTar(entries: HandEntry[]): Promise<Buffer> {
  const tar = tarPack()
  const done = collect(tar)
  for (const { content, ...header } of entries) {
    const type = header.type ?? 'file'
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve())
      if (type === 'file') tar.entry({ type, ...header }, content ?? '', cb)
      else tar.entry({ type, ...header }, cb)
    })
  }
  tar.finalize()
  return done
}

export async function handArchive(entries: HandEntry[]): Promise<Buffer> {
  return gzipSync(await handTar(entries))
}

const MEMBER_ZEROS = 64 * 1024 * 1024
let memberOfZeros: Buffer | undefined

/** The 512-byte tar header of a file of `size` bytes: what a pack emits before the data. */
async function fileHeader(name: string, size: number): Promise<Buffer> {
  const tar = tarPack()
  tar.entry({ name, size })
  for await (const chunk of tar) return (chunk as Buffer).subarray(0, 512)
  throw new Error('tar-stream emitted no header')
}

/**
 * A gzip bomb: a gzip tar of `entries` followed by `zeros.bin`, a file of `size` zero bytes
 * (a multiple of 64 MiB), about 1 KB compressed per MiB like the bombs found in the wild. It is
 * made of concatenated gzip members (which gunzip reads as one stream), so the 64 MiB of zeros
 * are deflated once whatever the size.
 */
export async function zerosBomb(size: number, entries: HandEntry[] = []): Promise<Buffer> {
  if (size % MEMBER_ZEROS !== 0) throw new Error(`zerosBomb: ${size} is not a multiple of 64 MiB`)
  // handTar ends an archive with two zero blocks; the bomb goes on where they were.
  const before = entries.length > 0 ? (await handTar(entries)).subarray(0, -1024) : Buffer.alloc(0)
  memberOfZeros ??= gzipSync(Buffer.alloc(MEMBER_ZEROS))
  const zeros = Array.from({ length: size / MEMBER_ZEROS }, () => memberOfZeros as Buffer)
  return Buffer.concat([gzipSync(Buffer.concat([before, await fileHeader('zeros.bin', size)])), ...zeros, gzipSync(Buffer.alloc(1024))])
}
