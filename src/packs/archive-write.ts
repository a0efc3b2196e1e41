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

import { createGzip } from 'node:zlib'
import { pipeline as pipelineWithCallback, Transform, type Readable, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { pack as tarPack, type Pack } from 'tar-stream'

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

  const tar = tarPack()
  const out = pipelineWithCallback(tar, createGzip(GZIP_OPTIONS), unixOsByte(), () => {
    // Errors reach the consumer as an 'error' on the returned stream; nothing else to do here.
  })
  writeEntries(tar, plan).catch((err: unknown) => tar.destroy(err instanceof Error ? err : new Error(String(err))))
  return out
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

async function writeEntries(tar: Pack, plan: PlannedEntry[]): Promise<void> {
  for (const { name, input } of plan) {
    const header = { name, mtime: FIXED_MTIME, uid: 0, gid: 0, uname: '', gname: '' }
    if (input === undefined) {
      tar.entry({ ...header, type: 'directory', mode: DIR_MODE })
      continue
    }
    const mode = (input.mode & 0o111) !== 0 ? EXEC_FILE_MODE : FILE_MODE
    const sink = tar.entry({ ...header, type: 'file', mode, size: input.size })
    // One file at a time: the next file is opened only once this one is fully written.
    await pipeline(input.open(), exactSize(input.path, input.size), sink)
  }
  tar.finalize()
}

/** Passes bytes through, failing as soon as more than `size` arrive or when fewer did. */
function exactSize(path: string, size: number): Transform {
  let seen = 0
  const mismatch = (): Error =>
    new Error(`${path} changed while it was being archived: expected ${size} bytes, got ${seen > size ? 'more' : seen}`)
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      seen += chunk.length
      if (seen > size) callback(mismatch())
      else callback(null, chunk)
    },
    flush(callback: TransformCallback) {
      callback(seen === size ? null : mismatch())
    },
  })
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
