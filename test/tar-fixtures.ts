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
