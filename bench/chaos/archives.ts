// Hostile archives and request bodies for the bad-input category. The tar writer here is raw on
// purpose: every tar library (tar-stream, the repository's reproducible writer) refuses to write
// what these cases need (a `..` path, a symlink, a device, a header that lies about its size or
// checksum, a pax record overriding the name, data after the end-of-archive marker). Bombs are
// made with the repository's reproducible writer fed with zeros, so they are valid packs whose
// only fault is their compression ratio, or, GiBs at a time, of gzip members repeated (zerosBomb,
// densePack). Everything is deterministic.

import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { writeReproducibleArchive } from '../../src/packs/archive-write.js'
import { packJson } from '../packs.js'
import { randomBytes } from '../random.js'

const BLOCK = 512

export interface RawEntry {
  name: string
  /** the typeflag: '0' file (default), '2' symlink, '1' hard link, '3'/'4' devices, '5' dir, '6' fifo, 'x' pax */
  type?: string
  data?: Buffer
  /** the size written in the header, when it must differ from the data's */
  declaredSize?: number
  linkname?: string
  /** added to the correct checksum (0: a valid header) */
  checksumError?: number
}

function field(header: Buffer, offset: number, length: number, value: string): void {
  header.write(value.slice(0, length), offset, length, 'utf8')
}

function octal(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, '0')}\0`
}

export function tarHeader(e: RawEntry): Buffer {
  const h = Buffer.alloc(BLOCK)
  const type = e.type ?? '0'
  field(h, 0, 100, e.name)
  field(h, 100, 8, octal(type === '5' ? 0o755 : 0o644, 8))
  field(h, 108, 8, octal(0, 8))
  field(h, 116, 8, octal(0, 8))
  field(h, 124, 12, octal(e.declaredSize ?? e.data?.length ?? 0, 12))
  field(h, 136, 12, octal(946684800, 12))
  field(h, 156, 1, type)
  field(h, 157, 100, e.linkname ?? '')
  field(h, 257, 6, 'ustar\0')
  field(h, 263, 2, '00')
  h.fill(' ', 148, 156)
  let sum = 0
  for (const byte of h) sum += byte
  field(h, 148, 8, `${(sum + (e.checksumError ?? 0)).toString(8).padStart(6, '0')}\0 `)
  return h
}

/** A pax extended header entry (type 'x') carrying `records` for the entry after it. */
export function paxEntry(records: Record<string, string>): RawEntry {
  const lines = Object.entries(records).map(([key, value]) => {
    const body = ` ${key}=${value}\n`
    // The length prefix counts itself.
    let length = body.length + 1
    while (`${length}${body}`.length !== length) length++
    return `${length}${body}`
  })
  return { name: 'PaxHeader', type: 'x', data: Buffer.from(lines.join('')) }
}

/** A tar of `entries`; `end` writes the two zero blocks that close an archive. */
export function rawTar(entries: RawEntry[], options: { end?: boolean; trailing?: Buffer } = {}): Buffer {
  const parts: Buffer[] = []
  for (const e of entries) {
    parts.push(tarHeader(e))
    if (e.data && e.data.length > 0) {
      parts.push(e.data)
      const pad = (BLOCK - (e.data.length % BLOCK)) % BLOCK
      if (pad > 0) parts.push(Buffer.alloc(pad))
    }
  }
  if (options.end ?? true) parts.push(Buffer.alloc(2 * BLOCK))
  if (options.trailing) parts.push(options.trailing)
  return Buffer.concat(parts)
}

export const gzip = (data: Buffer): Buffer => gzipSync(data)

/** The entries of a valid pack `name`:`version` in its top folder, to which a case adds its poison. */
export function packEntries(name: string, version: string, overrides: { packJson?: Buffer; values?: Buffer } = {}): RawEntry[] {
  const top = `${name}-${version}`
  return [
    { name: `${top}/`, type: '5' },
    { name: `${top}/pack.json`, data: overrides.packJson ?? Buffer.from(packJson(name, version, null)) },
    { name: `${top}/values.yaml`, data: overrides.values ?? Buffer.from(`pack:\n  namespace: ${name}\n`) },
  ]
}

/** A gzip tar of a valid pack plus `extra` entries (after the pack's own). */
export function poisonedPack(name: string, version: string, extra: RawEntry[], overrides: { packJson?: Buffer; values?: Buffer } = {}): Buffer {
  return gzip(rawTar([...packEntries(name, version, overrides), ...extra]))
}

function zeros(size: number): Readable {
  const chunk = Buffer.alloc(1 << 20)
  let left = size
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null)
        return
      }
      const n = Math.min(left, chunk.length)
      left -= n
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n))
    },
  })
}

/** A valid pack whose chart is `size` zero bytes: a few hundred KB that unpack to `size`. */
export async function bombPack(name: string, version: string, size: number): Promise<Buffer> {
  const small = (path: string, content: string) => ({ path, size: Buffer.byteLength(content), mode: 0o644, open: () => Readable.from([Buffer.from(content)]) })
  const files = [
    small('pack.json', packJson(name, version, 'charts/bomb.tgz')),
    small('values.yaml', `pack:\n  namespace: ${name}\n`),
    { path: 'charts/bomb.tgz', size, mode: 0o644, open: () => zeros(size) },
  ]
  const chunks: Buffer[] = []
  for await (const chunk of writeReproducibleArchive(`${name}-${version}`, files)) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

const MEMBER_BYTES = 64 * 1024 * 1024
const members = new Map<string, Buffer>()

/**
 * `size` bytes (a multiple of 64 MiB) of a 64 MiB `block` repeated, as gzip members: gunzip
 * reads concatenated members as one stream, so the block is deflated once whatever the size.
 */
function repeatedMembers(key: string, block: () => Buffer, size: number): Buffer[] {
  if (size % MEMBER_BYTES !== 0) throw new Error(`${size} is not a multiple of 64 MiB`)
  let member = members.get(key)
  if (member === undefined) {
    member = gzipSync(block())
    members.set(key, member)
  }
  return Array.from({ length: size / MEMBER_BYTES }, () => member as Buffer)
}

/** `size` zero bytes (a multiple of 64 MiB) as gzip members: about 1 KB per MiB. */
export function zerosMembers(size: number): Buffer[] {
  return repeatedMembers('zeros', () => Buffer.alloc(MEMBER_BYTES), size)
}

/**
 * A gzip tar of `before`, then `name`, a file of `size` zero bytes (a multiple of 64 MiB), then
 * `after` and the end marker: about 1 KB per MiB, the ratio of the bombs found in the wild (4 MB
 * that inflate to 4 GiB), made in milliseconds whatever the size.
 */
export function zerosBomb(before: RawEntry[], name: string, size: number, after: RawEntry[] = []): Buffer {
  const head = Buffer.concat([rawTar(before, { end: false }), tarHeader({ name, declaredSize: size })])
  return Buffer.concat([gzipSync(head), ...zerosMembers(size), gzipSync(rawTar(after))])
}

/**
 * A valid pack `name`:`version` whose `charts/filler.bin` is `size` bytes (a multiple of 64 MiB)
 * that compress about 130:1 (1 KiB of noise in every 150 KiB): under the default ratio limit of
 * 200, so accepted, and as heavy to read as a pack of that size can be.
 */
export function densePack(name: string, version: string, size: number): Buffer {
  const top = `${name}-${version}`
  const head = Buffer.concat([rawTar(packEntries(name, version), { end: false }), tarHeader({ name: `${top}/charts/filler.bin`, declaredSize: size })])
  const block = () => {
    const data = Buffer.alloc(MEMBER_BYTES)
    const noise = randomBytes('dense-pack', 1024)
    for (let at = 0; at < data.length; at += 150 * 1024) noise.copy(data, at)
    return data
  }
  return Buffer.concat([gzipSync(head), ...repeatedMembers('dense', block, size), gzipSync(Buffer.alloc(2 * BLOCK))])
}

/** The billion-laughs document: ten lines that expand to 10^depth strings in a naive YAML loader. */
export function yamlBomb(depth = 9): Buffer {
  const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
  for (let i = 1; i <= depth; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(',')}]`)
  return Buffer.from(`${lines.join('\n')}\n`)
}

export interface FormPart {
  name: string
  filename?: string
  contentType?: string
  data: Buffer | string
}

/** A multipart/form-data body; `close: false` leaves out the closing boundary. */
export function multipart(boundary: string, parts: FormPart[], options: { close?: boolean } = {}): Buffer {
  const out: Buffer[] = []
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`
    out.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.contentType ? `Content-Type: ${p.contentType}\r\n` : ''}\r\n`))
    out.push(typeof p.data === 'string' ? Buffer.from(p.data) : p.data)
    out.push(Buffer.from('\r\n'))
  }
  if (options.close ?? true) out.push(Buffer.from(`--${boundary}--\r\n`))
  return Buffer.concat(out)
}
