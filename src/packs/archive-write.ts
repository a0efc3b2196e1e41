// Reproducible pack archives: the same files always become the same gzip tar, byte for byte,
// whichever machine, clock, user or file system made them. `pack push` uploads these, `pack build`
// writes chart .tgz files with them, and tests build fixtures with them. Reproducibility is what
// lets a re-push of an unchanged folder be recognised, and lets anyone rebuild an archive and
// compare digests.
//
// Layout: every path sits under `<topFolder>/`; a directory entry precedes its children (the
// top folder included); entries are sorted by the UTF-8 bytes of their path, so the order does
// not depend on a directory listing. Headers carry fixed owners, times and modes; only the exec
// bit of a file survives. File contents are streamed, never buffered whole.
//
// The tar is written here rather than by tar-stream's packer, whose modules cost `pack push`
// more start-up time than all the rest of its work on a small pack. The bytes are exactly those
// tar-stream wrote (ustar headers; a name too long for name + prefix, or not ASCII, goes in a
// pax header), so every digest stays what it was; a test compares the two.

import { createGzip } from 'node:zlib'
import { pipeline as pipelineWithCallback, Readable, Transform, type TransformCallback } from 'node:stream'

export interface ArchiveInput {
  /** posix, relative to the pack folder */
  path: string
  size: number
  /** only the exec bit is kept */
  mode: number
  open: () => Readable
}

// A fixed, non-zero mtime: 0 (1970-01-01) is read by some extractors as "no time recorded" and
// replaced with the current time, and zip-based tooling cannot represent anything before 1980.
// 2000-01-01T00:00:00Z is unambiguous everywhere and obviously synthetic.
const FIXED_MTIME = new Date(Date.UTC(2000, 0, 1))

const FILE_MODE = 0o644
const EXEC_FILE_MODE = 0o755
const DIR_MODE = 0o755

// Every deflate parameter that changes the output is pinned, not left to defaults. The same
// zlib build then always produces the same bytes for the same input, however it is chunked.
const GZIP_OPTIONS = { level: 6, memLevel: 8, windowBits: 15, strategy: 0 } as const

// Byte 9 of the gzip header names the operating system. zlib fills it from how it was compiled
// (3 on Linux, 19 on macOS), so it is overwritten with 3 ("unix") to make the bytes agree.
const GZIP_OS_OFFSET = 9
const GZIP_OS_UNIX = 3

/** Orders paths by their UTF-8 bytes, the one order that is the same in every language and locale. */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

interface PlannedEntry {
  name: string
  input?: ArchiveInput
}

/**
 * Streams a gzip tar of `files` under `topFolder/`. Bad input (unsafe or duplicate paths, a
 * negative size) throws at once. A file that does not deliver exactly `size` bytes destroys the
 * returned stream with an error naming the path; an error reading a file is passed on as it is.
 */
export function writeReproducibleArchive(topFolder: string, files: ArchiveInput[]): Readable {
  const top = topFolder.endsWith('/') ? topFolder.slice(0, -1) : topFolder
  checkSegment(top, 'top folder')
  const plan = planEntries(top, files)

  return pipelineWithCallback(Readable.from(tarBlocks(plan), { objectMode: false }), createGzip(GZIP_OPTIONS), unixOsByte(), () => {
    // Errors reach the consumer as an 'error' on the returned stream; nothing else to do here.
  })
}

function planEntries(top: string, files: ArchiveInput[]): PlannedEntry[] {
  const filePaths = new Map<string, ArchiveInput>()
  const dirs = new Set<string>()
  for (const file of files) {
    checkRelativePath(file.path)
    if (!Number.isSafeInteger(file.size) || file.size < 0) {
      throw new Error(`invalid size ${file.size} for ${file.path}`)
    }
    if (filePaths.has(file.path)) throw new Error(`duplicate path in archive input: ${file.path}`)
    filePaths.set(file.path, file)
    const parts = file.path.split('/')
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'))
  }
  for (const dir of dirs) {
    if (filePaths.has(dir)) throw new Error(`path is both a file and a directory: ${dir}`)
  }

  const plan: PlannedEntry[] = [{ name: `${top}/` }]
  for (const dir of dirs) plan.push({ name: `${top}/${dir}/` })
  for (const [path, input] of filePaths) plan.push({ name: `${top}/${path}`, input })
  // A directory's name (with its trailing '/') is a prefix of its children's names, so byte
  // order puts every directory before what it contains.
  return plan.sort((a, b) => comparePaths(a.name, b.name))
}

const BLOCK = 512
const TYPE_FILE = 0
const TYPE_DIRECTORY = 5
const TYPE_PAX = 72

/** The tar stream: each entry's header, its bytes padded to a whole block, then two empty blocks. */
async function* tarBlocks(plan: PlannedEntry[]): AsyncGenerator<Buffer> {
  for (const { name, input } of plan) {
    if (input === undefined) {
      yield* header(name, DIR_MODE, 0, TYPE_DIRECTORY)
      continue
    }
    yield* header(name, (input.mode & 0o111) !== 0 ? EXEC_FILE_MODE : FILE_MODE, input.size, TYPE_FILE)
    // One file at a time: the next file is opened only once this one is fully written.
    let seen = 0
    const mismatch = (): Error => new Error(`${input.path} changed while it was being archived: expected ${input.size} bytes, got ${seen > input.size ? 'more' : seen}`)
    for await (const chunk of input.open()) {
      seen += (chunk as Buffer).length
      if (seen > input.size) throw mismatch()
      yield chunk as Buffer
    }
    if (seen !== input.size) throw mismatch()
    yield* padding(input.size)
  }
  yield Buffer.alloc(2 * BLOCK)
}

function* padding(size: number): Generator<Buffer> {
  if (size % BLOCK !== 0) yield Buffer.alloc(BLOCK - (size % BLOCK))
}

/** A ustar header, preceded by a pax header carrying the name when ustar cannot hold it. */
function* header(name: string, mode: number, size: number, type: number): Generator<Buffer> {
  const ustar = ustarHeader(name, mode, size, type)
  if (ustar !== null) {
    yield ustar
    return
  }
  const pax = Buffer.from(paxRecord('path', name))
  yield ustarHeader('PaxHeader', mode, pax.length, TYPE_PAX) as Buffer
  yield pax
  yield* padding(pax.length)
  yield ustarHeader('PaxHeader', mode, size, type) as Buffer
}

/** `<length> <key>=<value>\n`, the length counting its own digits. */
function paxRecord(key: string, value: string): string {
  const record = ` ${key}=${value}\n`
  const length = Buffer.byteLength(record)
  let digits = String(length).length
  if (length + digits >= 10 ** digits) digits++
  return `${length + digits}${record}`
}

function octal(value: number, digits: number): string {
  const text = value.toString(8)
  return text.length > digits ? `${'7'.repeat(digits)} ` : `${text.padStart(digits, '0')} `
}

/** The 512-byte ustar header, or null when the name does not fit in name + prefix as ASCII. */
function ustarHeader(path: string, mode: number, size: number, type: number): Buffer | null {
  if (Buffer.byteLength(path) !== path.length) return null
  let name = path
  let prefix = ''
  while (name.length > 100) {
    const slash = name.indexOf('/')
    if (slash === -1) return null
    prefix += prefix ? `/${name.slice(0, slash)}` : name.slice(0, slash)
    name = name.slice(slash + 1)
  }
  if (prefix.length > 155) return null
  const block = Buffer.alloc(BLOCK)
  block.write(name, 0, 'latin1')
  block.write(octal(mode & 0o7777, 6), 100, 'latin1')
  block.write(octal(0, 6), 108, 'latin1') // uid
  block.write(octal(0, 6), 116, 'latin1') // gid
  if (size.toString(8).length > 11) {
    // Base-256, for files of 8 GiB and more.
    block[124] = 0x80
    for (let i = 11, rest = size; i > 0; i--, rest = Math.floor(rest / 0x100)) block[124 + i] = rest % 0x100
  } else {
    block.write(octal(size, 11), 124, 'latin1')
  }
  block.write(octal(Math.floor(FIXED_MTIME.getTime() / 1000), 11), 136, 'latin1')
  block[156] = 0x30 + type
  block.write('ustar\u000000', 257, 'latin1')
  block.write(octal(0, 6), 329, 'latin1') // device major
  block.write(octal(0, 6), 337, 'latin1') // device minor
  block.write(prefix, 345, 'latin1')
  // The checksum counts its own 8 bytes as spaces.
  let sum = 8 * 0x20
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += block[i] as number
  block.write(octal(sum, 6), 148, 'latin1')
  return block
}

function unixOsByte(): Transform {
  let offset = 0
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      let out = chunk
      if (offset <= GZIP_OS_OFFSET && GZIP_OS_OFFSET < offset + chunk.length) {
        out = Buffer.from(chunk)
        out[GZIP_OS_OFFSET - offset] = GZIP_OS_UNIX
      }
      offset += chunk.length
      callback(null, out)
    },
  })
}

// The writer refuses what the server's reader would refuse, so a client never builds an
// archive it cannot push.
function checkRelativePath(path: string): void {
  if (path.startsWith('/')) throw new Error(`archive paths must be relative: ${path}`)
  for (const segment of path.split('/')) checkSegment(segment, `path ${JSON.stringify(path)}`)
}

function checkSegment(segment: string, what: string): void {
  if (segment === '' || segment === '.' || segment === '..' || /[\\\0/]/.test(segment)) {
    throw new Error(`invalid ${what}: ${JSON.stringify(segment)} is not allowed`)
  }
}
