// The server's one streaming pass over an uploaded pack archive (a gzip tar). In that single
// pass it hashes and counts the compressed bytes (the archive digest), unpacks, refuses unsafe
// or oversized entries as early as their header allows, hashes every regular file (for the
// content digest) and keeps in memory only the few small files the registry serves on their own
// (pack.json, values.yaml, ...). Nothing else is buffered, so an archive of any size allowed by
// the limits costs a bounded amount of memory.
//
// Every archive anyone inflates goes through inflateTar, the metered pass under the archive
// limits (compressed size, unpacked size, entries, compression ratio): this reader, the
// recognition of a layer pushed into a pack repository (containsPackJson, which stops at the
// first pack.json), and the client's `pack pull` and chart reading.
//
// It only reads: whether pack.json is a valid pack is decided elsewhere. The path and root rules
// are exported because the client's `pack pull` unpacks with exactly the same rules.

import { createHash } from 'node:crypto'
import { finished, Transform, type Readable, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { extract, type Extract, type Header } from 'tar-stream'
import { RegistryError, isRegistryError } from '../errors.js'
import { comparePaths } from './archive-write.js'
import { contentDigest } from './content-digest.js'

export const EXTRACTED_FILES = ['pack.json', 'values.yaml', 'logo.png', 'logo.webp', 'README.md', 'presets.yaml', 'schema.yaml'] as const

export interface ArchiveLimits {
  maxArchiveBytes: number
  maxUnpackedBytes: number
  maxEntries: number
  maxExtractedFileBytes: number
  /** Largest ratio of tar bytes to compressed bytes, checked once the tar passes RATIO_GRACE_BYTES. */
  maxCompressionRatio: number
}

export interface ArchiveFile {
  /** relative to the pack root, posix */
  path: string
  size: number
  /** hex */
  sha256: string
}

export interface PackArchive {
  /** sha256:<hex> of the compressed bytes */
  archiveDigest: string
  archiveSize: number
  /** '' or 'folder/' */
  root: string
  /** sorted by path */
  files: ArchiveFile[]
  /** EXTRACTED_FILES found at the pack root, keyed by name */
  extracted: Map<string, Buffer>
  contentDigest: string
  unpackedSize: number
}

/** A tar entry that passed the safety rules: a normalised relative path and its kind. */
export interface SafeEntry {
  path: string
  kind: 'file' | 'directory'
}

const EXTRACTED_NAMES: ReadonlySet<string> = new Set(EXTRACTED_FILES)
const TAR_BLOCK = 512
// Room for headers, pax/long-name records and padding on top of file contents when bounding
// the decompressed stream. The allowance is pooled over the archive (entries × this), so a few
// entries with large pax records (macOS tar stores extended attributes there) still fit; the
// trailer allowance covers the end-of-archive blocks and record padding.
const TAR_OVERHEAD_PER_ENTRY = 16 * 1024
const TAR_TRAILER_ALLOWANCE = 1024 * 1024
const PATH_MAX_BYTES = 4096
const PATH_MAX_DEPTH = 256
const EMPTY_SHA256 = createHash('sha256').digest('hex')
// The end-of-archive marker: two zero blocks where the next header would be.
const END_MARKER = 2 * TAR_BLOCK
// Small archives (a pack.json and some YAML) compress far beyond any sane ratio; only the
// ratio of an archive that has unpacked to more than this is judged.
export const RATIO_GRACE_BYTES = 1024 * 1024
const INFLATE_CHUNK_BYTES = 64 * 1024

/**
 * Checks one tar header against the pack rules and returns its normalised path (no leading
 * `./`, no trailing `/`), or undefined for the bare `./` folder entry that carries nothing.
 * Throws ARCHIVE_INVALID naming the entry for anything unsafe: absolute paths, `..`, backslashes,
 * NUL, empty or `.` segments, links, devices, fifos and any other non-file, non-directory type.
 */
export function checkEntry(header: Header): SafeEntry | undefined {
  const raw = header.name
  if (raw.includes('\0')) throw entryError(raw, 'NUL byte in path')
  if (raw.includes('\\')) throw entryError(raw, 'backslash in path')
  if (raw.startsWith('/')) throw entryError(raw, 'absolute path')

  let name = raw
  while (name.startsWith('./')) name = name.slice(2)
  const kind = entryKind(raw, header.type)
  if (kind === 'directory') name = name.replace(/\/+$/, '')
  if (name === '' || name === '.') {
    if (kind === 'directory') return undefined
    throw entryError(raw, 'empty file name')
  }
  // Far beyond any real pack (Linux's PATH_MAX), and what keeps a hostile path cheap to check.
  if (name.length > PATH_MAX_BYTES) throw entryError(raw.slice(0, 200), `path longer than ${PATH_MAX_BYTES} characters`)
  const segments = name.split('/')
  if (segments.length > PATH_MAX_DEPTH) throw entryError(raw.slice(0, 200), `path more than ${PATH_MAX_DEPTH} folders deep`)
  if (segments.includes('..')) throw entryError(raw, 'parent directory (..) in path')
  if (segments.some((segment) => segment === '' || segment === '.')) throw entryError(raw, 'empty or "." segment in path')
  return { path: name, kind }
}

function entryKind(raw: string, type: Header['type']): SafeEntry['kind'] {
  switch (type) {
    case 'file':
    // type '7' is a regular file on every system that reads tar today
    case 'contiguous-file':
      return 'file'
    case 'directory':
      return 'directory'
    case 'symlink':
      throw entryError(raw, 'symbolic links are not allowed')
    case 'link':
      throw entryError(raw, 'hard links are not allowed')
    case 'character-device':
    case 'block-device':
      throw entryError(raw, 'devices are not allowed')
    case 'fifo':
      throw entryError(raw, 'fifos are not allowed')
    default:
      throw entryError(raw, `unsupported entry type ${String(type)}`)
  }
}

/**
 * The pack root: '' when pack.json is at the archive root; `folder/` when every entry lives in
 * that one top-level folder and it holds pack.json; undefined otherwise.
 */
export function findPackRoot(files: ReadonlySet<string>, dirs: Iterable<string>): string | undefined {
  if (files.has('pack.json')) return ''
  const tops = new Set<string>()
  for (const path of files) {
    const slash = path.indexOf('/')
    if (slash === -1) return undefined
    tops.add(path.slice(0, slash))
  }
  for (const dir of dirs) tops.add(dir.split('/', 1)[0] as string)
  if (tops.size !== 1) return undefined
  const [top] = tops
  return files.has(`${top}/pack.json`) ? `${top}/` : undefined
}

export const PACK_ROOT_NOT_FOUND = 'pack.json not found at the archive root or inside a single top-level folder'

export async function readPackArchive(source: NodeJS.ReadableStream | Readable, limits: ArchiveLimits): Promise<PackArchive> {
  const walk = new ArchiveWalk(limits)
  const pass = await inflateTar(source, limits, async (header, stream) => {
    await walk.entry(header, stream)
    return 'next'
  })
  return walk.result(pass.archiveDigest, pass.archiveSize)
}

/**
 * Whether a stream is a gzip tar with pack.json at its root or inside one top-level folder:
 * how a layer pushed into a pack repository is recognised as a pack (then read for real with
 * readPackArchive). Reads only headers and stops at the first pack.json. Anything that is not
 * a gzip tar (or is cut short or corrupt) is not a pack: false. A gzip tar that breaks one of
 * `limits` before a pack.json shows throws that limit's error, as a push of it would: it cannot
 * be told from a pack without reading more than a pack may hold. The stream's `size` decides
 * limits.archivesize at the first entry, once the bytes are known to be a gzip tar.
 */
export async function containsPackJson(source: Readable, limits: ArchiveLimits, size: number): Promise<boolean> {
  let entries = 0
  let unpacked = 0
  try {
    const pass = await inflateTar(source, { ...limits, maxArchiveBytes: Number.POSITIVE_INFINITY }, async (header, stream) => {
      if (size > limits.maxArchiveBytes) throw archiveTooLarge(limits.maxArchiveBytes)
      entries++
      if (entries > limits.maxEntries) throw tooManyEntries(header.name, limits.maxEntries)
      const name = header.name.replace(/^(\.\/)+/, '')
      if (/^([^/]+\/)?pack\.json$/.test(name) && header.type === 'file') return 'stop'
      const entrySize = header.type === 'directory' ? 0 : (header.size ?? 0)
      unpacked += entrySize
      if (unpacked > limits.maxUnpackedBytes) throw unpackedTooLarge(limits.maxUnpackedBytes, header.name)
      // tar-stream does not wait for an empty entry's stream.
      if (entrySize > 0) await drain(stream)
      return 'next'
    })
    return pass.stopped
  } catch (err) {
    if (isArchiveLimit(err)) throw err
    return false
  }
}

/** Whether an error is one of the archive limits (limits.archivesize, entries, unpacked size, ratio, file size). */
export function isArchiveLimit(err: unknown): err is RegistryError {
  return isRegistryError(err) && (err.code === 'PAYLOAD_TOO_LARGE' || (err.code === 'ARCHIVE_INVALID' && err.detail?.limit !== undefined))
}

const INFLATION_LIMITS: ReadonlySet<unknown> = new Set(['too many entries', 'unpacked size limit', 'compression ratio'])

/**
 * Whether an error is a limit that only bytes which inflate as a gzip tar can break (entries,
 * unpacked size, ratio), which readPackArchive and containsPackJson both apply.
 */
export function isInflationLimit(err: unknown): err is RegistryError {
  return isRegistryError(err) && err.code === 'ARCHIVE_INVALID' && INFLATION_LIMITS.has(err.detail?.reason)
}

/** What an entry handler tells the pass: go on with the next entry, or stop reading here. */
export type EntryVerdict = 'next' | 'stop'

export interface TarPass {
  /** sha256:<hex> of the compressed bytes read */
  archiveDigest: string
  archiveSize: number
  /** true when the handler stopped the pass before the end of the archive */
  stopped: boolean
}

/**
 * The one way an archive is inflated, on the server and in the client: `source` (a gzip tar)
 * is hashed, inflated and split into entries, each handed to `onEntry`, which must consume the
 * entry's stream (or drain() it) before it resolves. Every archive limit is checked as the
 * bytes come: compressed size, unpacked size, the compression ratio, and data after the
 * end-of-archive marker; a pass that reaches the end also checks that the marker is there. The
 * first RegistryError raised by `onEntry` or a limit is what the pass throws; what zlib and
 * tar-stream throw becomes ARCHIVE_INVALID naming the fault. On failure or when stopped, the
 * source is destroyed, so it stops promptly (and cannot stall a tee by filling up unread).
 */
export async function inflateTar(
  source: NodeJS.ReadableStream | Readable,
  limits: ArchiveLimits,
  onEntry: (header: Header, stream: AsyncIterable<unknown> & Pick<Readable, 'resume' | 'on'>) => Promise<EntryVerdict>,
): Promise<TarPass> {
  const compressed = new CompressedMeter(limits.maxArchiveBytes)
  const tarLimit = limits.maxUnpackedBytes + (limits.maxEntries + 1) * TAR_OVERHEAD_PER_ENTRY + TAR_TRAILER_ALLOWANCE
  const position = { dataEnd: 0 }
  // zlib's default 16 KiB output chunks cost one callback, one tar-parser step and one entry
  // chunk each; 64 KiB (the size of a socket read) quarters that work on a large pack. The
  // meters still see every chunk, so each limit is judged at most 64 KiB late.
  const gunzip = createGunzip({ chunkSize: INFLATE_CHUNK_BYTES })
  // The ratio is judged against what the inflater has consumed, not what was handed to it: a
  // store read of 1 MiB would otherwise buy 200 MiB of zeros before the first check.
  const tarStream = new TarMeter(tarLimit, limits, () => gunzip.bytesWritten, position)
  const tar = extract()
  // The first error we raise ourselves wins; the pipeline may see a follow-on error first.
  let failure: RegistryError | undefined
  let stopped = false
  tar.on('entry', (header, stream, next) => {
    // An entry stream that errors also destroys the extractor, and that is where the pipeline
    // sees it; this listener only keeps the entry's copy of the error from being unhandled.
    stream.on('error', ignore)
    position.dataEnd = dataOffset(header) + (header.type === 'directory' ? 0 : Math.ceil((header.size ?? 0) / TAR_BLOCK) * TAR_BLOCK)
    onEntry(header, stream as unknown as AsyncIterable<unknown> & Pick<Readable, 'resume' | 'on'>).then(
      (verdict) => {
        if (verdict === 'next') {
          next()
          return
        }
        stopped = true
        next(STOP)
      },
      (err: unknown) => {
        if (isRegistryError(err)) failure ??= err
        next(err as Error)
      },
    )
  })

  // The source is the caller's (often one branch of an upload being tee'd into the blob store),
  // so it is attached by hand rather than handed to pipeline(), which would leave its listeners
  // on it: pipe() feeds the chain with backpressure, finished() reports a source error or an
  // aborted upload, and both are detached again whatever happens.
  const chain = pipeline(compressed, gunzip, tarStream, asNodeWritable(tar))
  const stopWatching = finished(source, (err) => {
    if (err) compressed.destroy(err)
  })
  source.pipe(compressed)
  try {
    await chain
  } catch (err) {
    source.unpipe(compressed)
    if ('destroy' in source && typeof source.destroy === 'function') source.destroy()
    if (stopped && failure === undefined) return { archiveDigest: `sha256:${compressed.hash.digest('hex')}`, archiveSize: compressed.bytes, stopped }
    throw failure ?? streamFailure(err, compressed.bytes)
  } finally {
    stopWatching()
  }
  if (!tarStream.endsCleanlyAfter(position.dataEnd)) {
    throw new RegistryError('ARCHIVE_INVALID', 'the upload is truncated: the tar archive has no end-of-archive marker', {
      reason: 'truncated',
    })
  }
  return { archiveDigest: `sha256:${compressed.hash.digest('hex')}`, archiveSize: compressed.bytes, stopped: false }
}

/** Reads an entry's data to its end, unlooked at. */
export async function drain(stream: Pick<Readable, 'resume' | 'on'>): Promise<void> {
  await new Promise<void>((resolve) => {
    // An entry that fails fails the whole pass, which reports it; here it only ends the wait.
    stream.on('end', resolve)
    stream.on('error', () => resolve())
    stream.resume()
  })
}

/** All the state of one pass over the entries. */
class ArchiveWalk {
  private readonly files = new Map<string, { size: number; sha256: string }>()
  private readonly dirs = new Set<string>()
  private readonly tops = new Set<string>()
  private fileAtTop = false
  private entries = 0
  private unpacked = 0
  /** candidate EXTRACTED_FILES by archive path, at depth 0 or (while a single folder is possible) 1 */
  private readonly candidates = new Map<string, Buffer>()
  /** depth-1 candidates too large to keep; only an error if that folder turns out to be the root */
  private readonly oversized = new Set<string>()

  constructor(private readonly limits: ArchiveLimits) {}

  async entry(header: Header, stream: AsyncIterable<unknown>): Promise<void> {
    this.entries += 1
    if (this.entries > this.limits.maxEntries) throw tooManyEntries(header.name, this.limits.maxEntries)
    const safe = checkEntry(header)
    if (safe === undefined) return
    this.place(header.name, safe)
    if (safe.kind === 'directory') return

    const size = header.size ?? 0
    this.unpacked += size
    if (this.unpacked > this.limits.maxUnpackedBytes) throw unpackedTooLarge(this.limits.maxUnpackedBytes, header.name)
    const keep = this.shouldKeep(header.name, safe.path, size)
    if (size === 0) {
      // Nothing to read (tar-stream does not wait for an empty entry's stream), and what a tar
      // bomb of empty files is made of: its cost per entry is kept to the bookkeeping.
      this.files.set(safe.path, { size, sha256: EMPTY_SHA256 })
      if (keep) this.candidates.set(safe.path, Buffer.alloc(0))
      return
    }
    const hash = createHash('sha256')
    const chunks: Buffer[] = []
    for await (const data of stream) {
      const chunk = data as Buffer
      hash.update(chunk)
      if (keep) chunks.push(chunk)
    }
    this.files.set(safe.path, { size, sha256: hash.digest('hex') })
    if (keep) this.candidates.set(safe.path, Buffer.concat(chunks))
  }

  /** Records a path, refusing duplicates and a path that is both a file and a directory. */
  private place(raw: string, { path, kind }: SafeEntry): void {
    const parts = path.split('/')
    this.tops.add(parts[0] as string)
    if (kind === 'file' && parts.length === 1) this.fileAtTop = true
    if (kind === 'file' && this.files.has(path)) throw entryError(raw, 'duplicate file')
    if (kind === 'file' ? this.dirs.has(path) : this.files.has(path)) throw entryError(raw, 'path is both a file and a directory')
    // Deepest folder first, stopping at one already known: its own ancestors were checked and
    // added when it was, so every folder is visited once over the whole archive.
    let dir = kind === 'directory' ? path : path.slice(0, Math.max(0, path.lastIndexOf('/')))
    while (dir !== '' && !this.dirs.has(dir)) {
      if (this.files.has(dir)) throw entryError(raw, 'path is both a file and a directory')
      this.dirs.add(dir)
      dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/')))
    }
    if (!this.singleFolderPossible()) {
      for (const candidate of this.candidates.keys()) if (candidate.includes('/')) this.candidates.delete(candidate)
    }
  }

  private singleFolderPossible(): boolean {
    return !this.fileAtTop && this.tops.size <= 1
  }

  /**
   * Whether to buffer this file. A depth-1 file can only be at the pack root when all entries
   * sit in one folder, so those are kept only while that is still possible: at most
   * 2 × EXTRACTED_FILES buffers exist at any time.
   */
  private shouldKeep(raw: string, path: string, size: number): boolean {
    const parts = path.split('/')
    const name = parts[parts.length - 1] as string
    if (!EXTRACTED_NAMES.has(name) || parts.length > 2) return false
    if (parts.length === 2 && !this.singleFolderPossible()) return false
    if (size <= this.limits.maxExtractedFileBytes) return true
    // At depth 0 the file is at the root of any valid pack; at depth 1 only if its folder is.
    if (parts.length === 1) throw this.oversizedError(raw)
    this.oversized.add(path)
    return false
  }

  private oversizedError(raw: string): RegistryError {
    return new RegistryError(
      'ARCHIVE_INVALID',
      `archive entry ${JSON.stringify(raw)} is larger than ${this.limits.maxExtractedFileBytes} bytes`,
      { entry: raw, reason: 'file too large', limit: this.limits.maxExtractedFileBytes },
    )
  }

  result(archiveDigest: string, archiveSize: number): PackArchive {
    const root = findPackRoot(new Set(this.files.keys()), this.dirs)
    if (root === undefined) {
      throw new RegistryError('ARCHIVE_INVALID', PACK_ROOT_NOT_FOUND, { reason: 'pack.json not found' })
    }
    const files: ArchiveFile[] = []
    for (const [path, { size, sha256 }] of this.files) files.push({ path: path.slice(root.length), size, sha256 })
    files.sort((a, b) => comparePaths(a.path, b.path))

    const extracted = new Map<string, Buffer>()
    for (const name of EXTRACTED_FILES) {
      const path = `${root}${name}`
      if (this.oversized.has(path)) throw this.oversizedError(path)
      const content = this.candidates.get(path)
      if (content !== undefined) extracted.set(name, content)
    }
    return {
      archiveDigest,
      archiveSize,
      root,
      files,
      extracted,
      contentDigest: contentDigest(files),
      unpackedSize: this.unpacked,
    }
  }
}

/** Hashes and counts the compressed bytes, failing as soon as they pass the limit. */
class CompressedMeter extends Transform {
  readonly hash = createHash('sha256')
  bytes = 0

  constructor(private readonly limit: number) {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length
    if (this.bytes > this.limit) {
      callback(archiveTooLarge(this.limit))
      return
    }
    this.hash.update(chunk)
    callback(null, chunk)
  }
}

/**
 * Counts the decompressed tar bytes and how many zero bytes end them, and stops the two kinds of
 * bomb as soon as they show: a ratio of tar bytes to compressed bytes beyond the limit, and an
 * archive that goes on after its end-of-archive marker (more than the usual zero padding, or
 * any non-zero byte), which tar readers would never look at but we would have to inflate. The
 * zero tail also tells a complete archive from one cut off between two entries, which the tar
 * parser alone would accept. It runs ahead of the parser by at most a buffer, so "the end of
 * the last entry's data" may be stale; bytes after it that are all zeros can hold no header
 * either way.
 */
class TarMeter extends Transform {
  private bytes = 0
  private trailingZeros = 0

  constructor(
    private readonly limit: number,
    private readonly limits: ArchiveLimits,
    /** compressed bytes the inflater has consumed so far */
    private readonly consumed: () => number,
    /** where the last entry's data ends in the tar stream, as the parser last saw it */
    private readonly position: { readonly dataEnd: number },
  ) {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const zerosSinceData = this.zeroRunAfter(this.position.dataEnd)
    this.bytes += chunk.length
    if (this.bytes > this.limit) {
      callback(unpackedTooLarge(this.limits.maxUnpackedBytes))
      return
    }
    if (this.bytes > RATIO_GRACE_BYTES && this.bytes > this.consumed() * this.limits.maxCompressionRatio) {
      callback(
        new RegistryError(
          'ARCHIVE_INVALID',
          `the archive unpacks to more than ${this.limits.maxCompressionRatio} times its compressed size (limits.maxcompressionratio); refusing a likely decompression bomb`,
          { reason: 'compression ratio', limit: this.limits.maxCompressionRatio },
        ),
      )
      return
    }
    let last = chunk.length - 1
    while (last >= 0 && chunk[last] === 0) last--
    this.trailingZeros = last === -1 ? this.trailingZeros + chunk.length : chunk.length - 1 - last
    if (zerosSinceData !== null && zerosSinceData >= END_MARKER && last !== -1) {
      callback(new RegistryError('ARCHIVE_INVALID', 'the archive has data after its end-of-archive marker', { reason: 'data after end of archive' }))
      return
    }
    const zerosNow = this.zeroRunAfter(this.position.dataEnd)
    if (zerosNow !== null && zerosNow > END_MARKER + TAR_TRAILER_ALLOWANCE) {
      callback(
        new RegistryError('ARCHIVE_INVALID', `the archive goes on with more than ${TAR_TRAILER_ALLOWANCE} zero bytes after its end-of-archive marker`, {
          reason: 'data after end of archive',
        }),
      )
      return
    }
    callback(null, chunk)
  }

  /** How many bytes follow `dataEnd`, when all of them are zeros; else null. */
  private zeroRunAfter(dataEnd: number): number | null {
    const rest = this.bytes - dataEnd
    return rest > 0 && this.trailingZeros >= rest ? rest : null
  }

  /** True when at least one zero block follows `dataEnd` and nothing but zeros does. */
  endsCleanlyAfter(dataEnd: number): boolean {
    const rest = this.bytes - dataEnd
    return rest >= TAR_BLOCK && this.trailingZeros >= rest
  }
}

/**
 * Where this entry's data starts in the tar stream. tar-stream records it on every header it
 * emits (`byteOffset`), though its type declarations leave it out.
 */
function dataOffset(header: Header): number {
  return (header as Header & { byteOffset: number }).byteOffset
}

/**
 * tar-stream's extractor is a streamx Writable. It works as the last stage of Node's pipeline()
 * (it has write/end/destroy and emits drain/finish/error/close), but its declarations are
 * streamx's own, so the type has to be asserted here.
 */
function asNodeWritable(writable: Extract): NodeJS.WritableStream {
  return writable as unknown as NodeJS.WritableStream
}

/** One limit, one error: what the push route, the /v2 bridge and the CLI all report. */
export function archiveTooLarge(limit: number): RegistryError {
  return new RegistryError('PAYLOAD_TOO_LARGE', `the archive is larger than this registry accepts (limits.archivesize: ${limit} bytes)`, { limit })
}

export function tooManyEntries(entry: string, limit: number): RegistryError {
  return new RegistryError('ARCHIVE_INVALID', `the archive has more than ${limit} entries (limits.entries)`, { entry, reason: 'too many entries', limit })
}

export function unpackedTooLarge(limit: number, entry?: string): RegistryError {
  return new RegistryError('ARCHIVE_INVALID', `the archive unpacks to more than ${limit} bytes (limits.unpackedsize)`, {
    ...(entry !== undefined ? { entry } : {}),
    reason: 'unpacked size limit',
    limit,
  })
}

/** How a handler stops a pass on purpose: the extractor is ended with it, and the pass reports it as stopped. */
const STOP = new Error('stopped by the entry handler')

function entryError(entry: string, reason: string): RegistryError {
  return new RegistryError('ARCHIVE_INVALID', `archive entry ${JSON.stringify(entry)} is not allowed: ${reason}`, {
    entry,
    reason,
  })
}

/** Turns what zlib and tar-stream throw into messages about the upload; passes anything else on. */
function streamFailure(err: unknown, compressedBytes: number): unknown {
  if (isRegistryError(err) || !(err instanceof Error)) return err
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'Z_BUF_ERROR') {
    return compressedBytes === 0
      ? new RegistryError('ARCHIVE_INVALID', 'the upload is empty: expected a gzip tar archive', { reason: 'empty' })
      : new RegistryError('ARCHIVE_INVALID', 'the upload is truncated: the gzip stream ends early', { reason: 'truncated' })
  }
  if (code?.startsWith('Z_')) {
    return new RegistryError('ARCHIVE_INVALID', `the upload is not a gzip tar archive (${err.message})`, { reason: 'not gzip' })
  }
  if (err.message === 'Unexpected end of data') {
    return new RegistryError('ARCHIVE_INVALID', 'the upload is truncated: the tar archive ends inside an entry', {
      reason: 'truncated',
    })
  }
  if (err.message.startsWith('Invalid tar header') || err.message === 'Header exceeds max size') {
    return new RegistryError('ARCHIVE_INVALID', `the upload is not a gzip tar archive (${err.message})`, { reason: 'not tar' })
  }
  return err
}

function ignore(): void {}
