// The server's streaming read of a pack archive: what it reports for good archives (ours, GNU
// tar's, hand-made ones), every rejection, and how it treats the source stream when it fails.

import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { buffer as collect } from 'node:stream/consumers'
import { createGzip, gzipSync } from 'node:zlib'
import { handTar, type HandEntry, zerosBomb } from '../tar-fixtures.js'
import { isRegistryError, type RegistryError } from '../../src/errors.js'
import { containsPackJson, EXTRACTED_FILES, readPackArchive, type ArchiveLimits } from '../../src/packs/archive-read.js'
import { writeReproducibleArchive, type ArchiveInput } from '../../src/packs/archive-write.js'
import { contentDigest } from '../../src/packs/content-digest.js'

const LIMITS: ArchiveLimits = {
  maxArchiveBytes: 64 * 1024 * 1024,
  maxUnpackedBytes: 256 * 1024 * 1024,
  maxEntries: 1000,
  maxExtractedFileBytes: 1024 * 1024,
  maxCompressionRatio: 200,
}


const handArchive = async (entries: HandEntry[]): Promise<Buffer> => gzipSync(await handTar(entries))

const read = (archive: Buffer, limits: Partial<ArchiveLimits> = {}) =>
  readPackArchive(Readable.from([archive]), { ...LIMITS, ...limits })

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex')

const PACK_JSON = '{"name":"demo","version":"1.0.0"}'

function input(path: string, content: string | Buffer, mode = 0o644): ArchiveInput {
  const bytes = Buffer.from(content)
  return { path, size: bytes.length, mode, open: () => Readable.from([bytes]) }
}

async function rejection(t: Test, promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise
  } catch (err) {
    if (isRegistryError(err)) return err
    t.fail(`expected a RegistryError, got ${String(err)}`)
    throw err
  }
  t.fail('expected the archive to be rejected')
  throw new Error('not rejected')
}

t.test('EXTRACTED_FILES lists what the registry serves on its own', async (t) => {
  t.same([...EXTRACTED_FILES], ['pack.json', 'values.yaml', 'logo.png', 'logo.webp', 'README.md', 'presets.yaml', 'schema.yaml'])
})

t.test('pack.json at the archive root', async (t) => {
  const archive = await handArchive([
    { name: 'values.yaml', content: 'a: 1\n' },
    { name: 'charts/', type: 'directory' },
    { name: 'charts/demo-1.0.0.tgz', content: 'chart bytes' },
    { name: 'pack.json', content: PACK_JSON },
    { name: 'logo.png', content: 'png' },
  ])
  const result = await read(archive)
  t.equal(result.root, '')
  t.equal(result.archiveDigest, `sha256:${sha256(archive)}`)
  t.equal(result.archiveSize, archive.length)
  t.same(result.files, [
    { path: 'charts/demo-1.0.0.tgz', size: 11, sha256: sha256('chart bytes') },
    { path: 'logo.png', size: 3, sha256: sha256('png') },
    { path: 'pack.json', size: PACK_JSON.length, sha256: sha256(PACK_JSON) },
    { path: 'values.yaml', size: 5, sha256: sha256('a: 1\n') },
  ])
  t.same([...result.extracted.keys()].sort(), ['logo.png', 'pack.json', 'values.yaml'])
  t.equal(result.extracted.get('pack.json')?.toString(), PACK_JSON)
  t.equal(result.contentDigest, contentDigest(result.files))
  t.equal(result.unpackedSize, 11 + 3 + PACK_JSON.length + 5)
})

t.test('pack.json inside a single top-level folder; extracted files come from that folder only', async (t) => {
  const archive = await handArchive([
    { name: 'demo-1.0.0/', type: 'directory' },
    { name: 'demo-1.0.0/pack.json', content: PACK_JSON },
    { name: 'demo-1.0.0/values.yaml', content: 'v: 1\n' },
    { name: 'demo-1.0.0/charts/README.md', content: 'chart readme, not the pack readme' },
  ])
  const result = await read(archive)
  t.equal(result.root, 'demo-1.0.0/')
  t.same(
    result.files.map((f) => f.path),
    ['charts/README.md', 'pack.json', 'values.yaml'],
  )
  t.same([...result.extracted.keys()].sort(), ['pack.json', 'values.yaml'])
})

t.test('a leading ./ is normalised and the bare ./ entry ignored', async (t) => {
  const archive = await handArchive([
    { name: './', type: 'directory' },
    { name: './pack.json', content: PACK_JSON },
    { name: './charts/', type: 'directory' },
    { name: './charts/a.tgz', content: 'a' },
  ])
  const result = await read(archive)
  t.equal(result.root, '')
  t.same(
    result.files.map((f) => f.path),
    ['charts/a.tgz', 'pack.json'],
  )
  t.ok(result.extracted.has('pack.json'))
})

t.test('long and non-ASCII names (pax headers) are read whole', async (t) => {
  const long = `deep/${'x'.repeat(150)}/file.txt`
  const archive = await handArchive([
    { name: 'pack.json', content: PACK_JSON },
    { name: long, content: 'long' },
    { name: 'ünïcödé.txt', content: 'u' },
  ])
  const result = await read(archive)
  t.same(
    result.files.map((f) => f.path),
    [long, 'pack.json', 'ünïcödé.txt'],
  )
})

t.test('archives made by GNU tar', async (t) => {
  const dir = t.testdir({
    'demo-1.0.0': {
      'pack.json': PACK_JSON,
      'values.yaml': 'x: 1\n',
      'README.md': '# demo\n',
      charts: { 'demo-1.0.0.tgz': 'chart' },
    },
  })
  const pack = join(dir, 'demo-1.0.0')
  const tarGz = (name: string, args: string[]): Buffer => {
    const out = join(dir, name)
    execFileSync('tar', ['-czf', out, ...args])
    return readFileSync(out)
  }
  const withFolder = await read(tarGz('folder.tgz', ['-C', dir, 'demo-1.0.0']))
  const dotSlash = await read(tarGz('dot.tgz', ['-C', pack, '.']))
  const plain = await read(tarGz('plain.tgz', ['-C', pack, 'README.md', 'charts', 'pack.json', 'values.yaml']))
  const pax = await read(tarGz('pax.tgz', ['--format=pax', '-C', dir, 'demo-1.0.0']))

  t.equal(withFolder.root, 'demo-1.0.0/')
  t.equal(dotSlash.root, '')
  t.equal(plain.root, '')
  t.equal(pax.root, 'demo-1.0.0/')
  for (const other of [dotSlash, plain, pax]) {
    t.equal(other.contentDigest, withFolder.contentDigest)
    t.same(other.files, withFolder.files)
    t.same([...other.extracted.keys()].sort(), ['README.md', 'pack.json', 'values.yaml'])
  }
})

t.test('contentDigest survives re-archiving; archiveDigest does not', async (t) => {
  const files = [input('pack.json', PACK_JSON), input('values.yaml', 'a: 1\n'), input('bin/run.sh', '#!/bin/sh\n', 0o755)]
  const ours = await collect(writeReproducibleArchive('demo-1.0.0', files))
  const renamed = await collect(writeReproducibleArchive('other-name', files))
  const a = await read(ours)
  const b = await read(renamed)
  t.equal(a.contentDigest, b.contentDigest)
  t.not(a.archiveDigest, b.archiveDigest)

  const dir = t.testdir({})
  writeFileSync(join(dir, 'ours.tgz'), ours)
  mkdirSync(join(dir, 'x'))
  execFileSync('tar', ['-xzf', join(dir, 'ours.tgz'), '-C', join(dir, 'x')])
  execFileSync('tar', ['-czf', join(dir, 'gnu.tgz'), '--owner=1000', '--group=1000', '--mtime=2024-05-05', '-C', join(dir, 'x'), 'demo-1.0.0'])
  const gnu = await read(readFileSync(join(dir, 'gnu.tgz')))
  t.equal(gnu.contentDigest, a.contentDigest)
  t.not(gnu.archiveDigest, a.archiveDigest)
})

t.test('a 20 MB file streams through', async (t) => {
  const size = 20 * 1024 * 1024
  const hash = createHash('sha256')
  const big: ArchiveInput = {
    path: 'charts/big.tgz',
    size,
    mode: 0o644,
    open: () => {
      let left = size
      return new Readable({
        read() {
          if (left === 0) return void this.push(null)
          const chunk = randomBytes(Math.min(left, 256 * 1024))
          left -= chunk.length
          hash.update(chunk)
          this.push(chunk)
        },
      })
    },
  }
  const result = await readPackArchive(writeReproducibleArchive('big-1.0.0', [input('pack.json', PACK_JSON), big]), LIMITS)
  const file = result.files.find((f) => f.path === 'charts/big.tgz')
  t.equal(file?.size, size)
  t.equal(file?.sha256, hash.digest('hex'))
  t.ok(result.archiveSize > size, 'random bytes do not compress')
  t.equal(result.unpackedSize, size + PACK_JSON.length)
})

// Every unsafe entry, with the entry name the rejection must report.
const unsafe: Array<{ name: string; entries: HandEntry[]; entry: string; reason: RegExp }> = [
  { name: 'symlink', entries: [{ name: 'link', type: 'symlink', linkname: '/etc/passwd' }], entry: 'link', reason: /symbolic link/ },
  { name: 'hardlink', entries: [{ name: 'hard', type: 'link', linkname: 'pack.json' }], entry: 'hard', reason: /hard link/ },
  { name: 'parent segment', entries: [{ name: '../x', content: 'x' }], entry: '../x', reason: /parent directory/ },
  { name: 'parent segment inside', entries: [{ name: 'a/../../x', content: 'x' }], entry: 'a/../../x', reason: /parent directory/ },
  { name: 'parent directory entry', entries: [{ name: '../', type: 'directory' }], entry: '../', reason: /parent directory/ },
  { name: 'absolute path', entries: [{ name: '/etc/passwd', content: 'root' }], entry: '/etc/passwd', reason: /absolute/ },
  { name: 'backslash', entries: [{ name: 'a\\..\\x', content: 'x' }], entry: 'a\\..\\x', reason: /backslash/ },
  { name: 'NUL', entries: [{ name: 'a\0b', content: 'x', pax: {} }], entry: 'a\0b', reason: /NUL/ },
  { name: 'empty segment', entries: [{ name: 'a//b', content: 'x' }], entry: 'a//b', reason: /segment/ },
  { name: 'dot segment', entries: [{ name: 'a/./b', content: 'x' }], entry: 'a/./b', reason: /segment/ },
  { name: 'character device', entries: [{ name: 'null', type: 'character-device', devmajor: 1, devminor: 3 }], entry: 'null', reason: /device/ },
  { name: 'block device', entries: [{ name: 'sda', type: 'block-device', devmajor: 8 }], entry: 'sda', reason: /device/ },
  { name: 'fifo', entries: [{ name: 'pipe', type: 'fifo' }], entry: 'pipe', reason: /fifo/ },
  // 64 KB of path in a pax header cost seconds of CPU and a gigabyte before the caps.
  { name: 'a 64 KB path', entries: [{ name: 'a/'.repeat(32768) + 'f', content: 'x' }], entry: 'a/'.repeat(100), reason: /longer than 4096 characters/ },
  { name: 'a path 300 folders deep', entries: [{ name: 'd/'.repeat(300) + 'f', content: 'x' }], entry: 'd/'.repeat(100), reason: /more than 256 folders deep/ },
  {
    name: 'duplicate file',
    entries: [
      { name: 'values.yaml', content: 'a' },
      { name: './values.yaml', content: 'b' },
    ],
    entry: './values.yaml',
    reason: /duplicate/,
  },
  {
    name: 'file then folder of the same name',
    entries: [
      { name: 'charts', content: 'a' },
      { name: 'charts/x', content: 'b' },
    ],
    entry: 'charts/x',
    reason: /both a file and a directory/,
  },
  {
    name: 'folder then file of the same name',
    entries: [
      { name: 'charts/', type: 'directory' },
      { name: 'charts', content: 'b' },
    ],
    entry: 'charts',
    reason: /both a file and a directory/,
  },
]

for (const c of unsafe) {
  t.test(`rejects: ${c.name}`, async (t) => {
    const err = await rejection(t, read(await handArchive([{ name: 'pack.json', content: PACK_JSON }, ...c.entries])))
    t.equal(err.code, 'ARCHIVE_INVALID')
    t.equal(err.detail?.entry, c.entry)
    t.match(String(err.detail?.reason), c.reason)
    t.ok(err.message.includes(JSON.stringify(c.entry)), `message names the entry: ${err.message}`)
  })
}

t.test('rejects more entries than allowed', async (t) => {
  const entries: HandEntry[] = [{ name: 'pack.json', content: PACK_JSON }]
  for (let i = 0; i < 10; i++) entries.push({ name: `f${i}`, content: 'x' })
  await t.resolves(read(await handArchive(entries), { maxEntries: 11 }))
  const err = await rejection(t, read(await handArchive(entries), { maxEntries: 10 }))
  t.equal(err.code, 'ARCHIVE_INVALID')
  t.equal(err.detail?.entry, 'f9')
  t.equal(err.detail?.limit, 10)
})

t.test('rejects more unpacked bytes than allowed', async (t) => {
  const archive = await handArchive([
    { name: 'pack.json', content: PACK_JSON },
    { name: 'big', content: Buffer.alloc(5000) },
  ])
  await t.resolves(read(archive, { maxUnpackedBytes: 5000 + PACK_JSON.length }))
  const err = await rejection(t, read(archive, { maxUnpackedBytes: 5000 }))
  t.equal(err.code, 'ARCHIVE_INVALID')
  t.equal(err.detail?.entry, 'big')
  t.equal(err.detail?.limit, 5000)
  t.match(err.message, /unpacks to more than 5000 bytes/)
})

t.test('decompression bombs are refused early, naming what is wrong', async (t) => {
  const packTar = await handTar([{ name: 'pack.json', content: PACK_JSON }])
  const cases: Array<{ what: string; tar: Buffer; limits?: Partial<ArchiveLimits>; reason: string; message: RegExp }> = [
    {
      // A valid tar followed by 64 MB of zeros compresses to a few tens of kilobytes.
      what: 'zeros after the end-of-archive marker',
      tar: Buffer.concat([packTar, Buffer.alloc(64 * 1024 * 1024)]),
      limits: { maxCompressionRatio: 1_000_000 },
      reason: 'data after end of archive',
      message: /more than 1048576 zero bytes after its end-of-archive marker/,
    },
    {
      // gunzip hands the reader 16 KiB pieces; the garbage comes in a later one.
      what: 'non-zero data after the end-of-archive marker',
      tar: Buffer.concat([packTar, Buffer.alloc(64 * 1024), Buffer.from('trailing garbage')]),
      reason: 'data after end of archive',
      message: /data after its end-of-archive marker/,
    },
    {
      what: 'a ratio beyond limits.maxcompressionratio',
      tar: await handTar([{ name: 'pack.json', content: PACK_JSON }, { name: 'zeros.bin', content: Buffer.alloc(8 * 1024 * 1024) }]),
      reason: 'compression ratio',
      message: /more than 200 times its compressed size \(limits\.maxcompressionratio\)/,
    },
  ]
  for (const c of cases) {
    const err = await rejection(t, read(gzipSync(c.tar), { maxEntries: 10, ...c.limits }))
    t.equal(err.code, 'ARCHIVE_INVALID', c.what)
    t.equal(err.detail?.reason, c.reason, c.what)
    t.match(err.message, c.message, c.what)
  }
  // The same 8 MiB of zeros pass under a higher ratio: the limit is the configured one.
  const zeros = await handTar([{ name: 'pack.json', content: PACK_JSON }, { name: 'zeros.bin', content: Buffer.alloc(8 * 1024 * 1024) }])
  await t.resolves(read(gzipSync(zeros), { maxCompressionRatio: 100_000 }))
  // The usual padding after the marker (GNU tar fills its 10 KiB record) is fine.
  await t.resolves(read(gzipSync(Buffer.concat([packTar, Buffer.alloc(10240)]))))
})

t.test('a 10 GiB-of-zeros gzip is refused within a second', async (t) => {
  // Stream the bomb from a generator so the test holds only one chunk at a time.
  const zeros = Buffer.alloc(1 << 20)
  async function* tenGiB() {
    for (let i = 0; i < 10 * 1024; i++) yield zeros
  }
  const started = Date.now()
  const err = await rejection(t, readPackArchive(Readable.from(tenGiB()).pipe(createGzip({ level: 1 })), LIMITS))
  t.equal(err.code, 'ARCHIVE_INVALID')
  t.ok(Date.now() - started < 5000, `refused after ${Date.now() - started} ms`)
})

t.test('the ratio is judged on what the inflater consumed: a 4 GiB bomb handed over in one piece costs milliseconds', async (t) => {
  // A blob store hands over 1 MiB at a time, so 4 MB of bomb arrive in four pieces. Judged on
  // the bytes handed to gunzip, the first piece alone would buy 200 MiB of zeros.
  const bomb = await zerosBomb(4 * 1024 ** 3)
  const limits = { ...LIMITS, maxUnpackedBytes: 16 * 1024 ** 3 }
  const cpu = process.cpuUsage()
  const err = await rejection(t, readPackArchive(Readable.from([bomb]), limits))
  t.match(err.detail, { reason: 'compression ratio' })
  const pieces = Readable.from([bomb.subarray(0, 1 << 20), bomb.subarray(1 << 20)])
  t.match((await rejection(t, containsPackJson(pieces, limits, bomb.length))).detail, { reason: 'compression ratio' })
  const { user, system } = process.cpuUsage(cpu)
  t.ok(user + system < 1_000_000, `both refused after ${((user + system) / 1000).toFixed(0)} ms of CPU`)
})

t.test('rejects a compressed archive over the limit', async (t) => {
  const archive = await handArchive([
    { name: 'pack.json', content: PACK_JSON },
    { name: 'noise', content: randomBytes(10000) },
  ])
  await t.resolves(read(archive, { maxArchiveBytes: archive.length }))
  const err = await rejection(t, read(archive, { maxArchiveBytes: archive.length - 1 }))
  t.equal(err.code, 'PAYLOAD_TOO_LARGE')
  t.same(err.detail, { limit: archive.length - 1 })
  t.match(err.message, /limits\.archivesize/)
})

t.test('rejects an extracted file over its limit, at the pack root only', async (t) => {
  const large = 'x'.repeat(2000)
  const atRoot = await rejection(
    t,
    read(await handArchive([{ name: 'pack.json', content: PACK_JSON }, { name: 'README.md', content: large }]), { maxExtractedFileBytes: 1000 }),
  )
  t.equal(atRoot.detail?.entry, 'README.md')
  t.equal(atRoot.detail?.limit, 1000)

  const inFolder = await rejection(
    t,
    read(
      await handArchive([
        { name: 'demo/README.md', content: large },
        { name: 'demo/pack.json', content: PACK_JSON },
      ]),
      { maxExtractedFileBytes: 1000 },
    ),
  )
  t.equal(inFolder.detail?.entry, 'demo/README.md')

  // Not at the pack root: just another file.
  const elsewhere = await read(
    await handArchive([
      { name: 'charts/README.md', content: large },
      { name: 'pack.json', content: PACK_JSON },
    ]),
    { maxExtractedFileBytes: 1000 },
  )
  t.equal(elsewhere.root, '')
  t.notOk(elsewhere.extracted.has('README.md'))
  t.ok(elsewhere.files.some((f) => f.path === 'charts/README.md'))
})

t.test('rejects what is not a gzip tar, or is cut short', async (t) => {
  const good = await handArchive([
    { name: 'pack.json', content: PACK_JSON },
    { name: 'noise', content: randomBytes(4000) },
  ])
  const tarBytes = await handTar([
    { name: 'pack.json', content: PACK_JSON },
    { name: 'values.yaml', content: 'a: 1\n' },
  ])
  const cases: Array<{ name: string; archive: Buffer; message: RegExp }> = [
    { name: 'plain text', archive: Buffer.from('hello, this is not an archive'), message: /not a gzip tar archive/ },
    { name: 'an uncompressed tar', archive: tarBytes, message: /not a gzip tar archive/ },
    { name: 'gzip of something else', archive: gzipSync(Buffer.alloc(2048, 'a')), message: /not a gzip tar archive/ },
    { name: 'an empty upload', archive: Buffer.alloc(0), message: /empty/ },
    { name: 'a truncated gzip stream', archive: good.subarray(0, good.length - 100), message: /truncated/ },
    { name: 'a tar cut inside an entry', archive: gzipSync(tarBytes.subarray(0, 700)), message: /truncated/ },
    { name: 'a tar cut between entries', archive: gzipSync(tarBytes.subarray(0, 1024)), message: /truncated/ },
    { name: 'trailing garbage', archive: Buffer.concat([good, Buffer.from('garbage')]), message: /not a gzip tar archive/ },
  ]
  for (const c of cases) {
    const err = await rejection(t, read(c.archive))
    t.equal(err.code, 'ARCHIVE_INVALID', c.name)
    t.match(err.message, c.message, c.name)
  }
})

t.test('rejects archives without a findable pack root', async (t) => {
  const cases: Array<{ name: string; entries: HandEntry[] }> = [
    {
      name: 'two top-level folders',
      entries: [
        { name: 'a/pack.json', content: PACK_JSON },
        { name: 'b/values.yaml', content: 'x' },
      ],
    },
    {
      name: 'a top-level file beside the folder',
      entries: [
        { name: 'a/pack.json', content: PACK_JSON },
        { name: 'NOTES', content: 'x' },
      ],
    },
    {
      name: 'an empty top-level folder beside it',
      entries: [
        { name: 'a/pack.json', content: PACK_JSON },
        { name: 'b/', type: 'directory' },
      ],
    },
    { name: 'pack.json two levels deep', entries: [{ name: 'a/b/pack.json', content: PACK_JSON }] },
    { name: 'no pack.json at all', entries: [{ name: 'values.yaml', content: 'x' }] },
    { name: 'nothing at all', entries: [] },
  ]
  for (const c of cases) {
    const err = await rejection(t, read(await handArchive(c.entries)))
    t.equal(err.code, 'ARCHIVE_INVALID', c.name)
    t.equal(err.message, 'pack.json not found at the archive root or inside a single top-level folder', c.name)
  }
})

t.test('on failure the source is destroyed promptly and left without listeners', async (t) => {
  let chunks = 0
  const endless = new Readable({
    read() {
      chunks++
      this.push(randomBytes(16 * 1024))
    },
  })
  const err = await rejection(t, readPackArchive(endless, { ...LIMITS, maxArchiveBytes: 1024 * 1024 }))
  t.match(err.message, /not a gzip tar archive/)
  t.ok(endless.destroyed)
  t.ok(chunks < 16, `stopped after ${chunks} chunks`)
  t.same(endless.eventNames(), [])

  // A valid gzip tar that keeps coming (a file entry of 1 GB), stopped by the compressed-size limit.
  let content: Readable | undefined
  const growing = writeReproducibleArchive('big', [
    input('pack.json', PACK_JSON),
    {
      path: 'huge',
      size: 1024 * 1024 * 1024,
      mode: 0o644,
      open: () =>
        (content = new Readable({
          read() {
            this.push(randomBytes(64 * 1024))
          },
        })),
    },
  ])
  const tooBig = await rejection(t, readPackArchive(growing, { ...LIMITS, maxArchiveBytes: 256 * 1024, maxUnpackedBytes: 2 ** 31 }))
  t.equal(tooBig.code, 'PAYLOAD_TOO_LARGE')
  t.ok(growing.destroyed)
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(content?.destroyed, 'the writer stopped reading its input too')
})

t.test('on success the source is left without listeners', async (t) => {
  const source = Readable.from([await handArchive([{ name: 'pack.json', content: PACK_JSON }])])
  await readPackArchive(source, LIMITS)
  t.same(source.eventNames(), [])
})

t.test('a source that fails passes its own error on', async (t) => {
  const archive = await handArchive([{ name: 'pack.json', content: PACK_JSON }])
  let sent = false
  const failing = new Readable({
    read() {
      if (sent) return void this.destroy(new Error('connection reset'))
      sent = true
      this.push(archive.subarray(0, 30))
    },
  })
  await t.rejects(readPackArchive(failing, LIMITS), { message: 'connection reset' })
})

/** `archive` as a stream of 1 KiB pieces made on demand, and how many were taken. */
function inPieces(archive: Buffer): { stream: Readable; taken: () => number; total: number } {
  let taken = 0
  function* pieces() {
    for (let at = 0; at < archive.length; at += 1024) {
      taken++
      yield archive.subarray(at, at + 1024)
    }
  }
  return { stream: Readable.from(pieces()), taken: () => taken, total: Math.ceil(archive.length / 1024) }
}

t.test('containsPackJson answers from the first entry that decides, under the archive limits', async (t) => {
  const contains = async (archive: Buffer, limits: Partial<ArchiveLimits> = {}) => {
    const pieces = inPieces(archive)
    const found = await containsPackJson(pieces.stream, { ...LIMITS, ...limits }, archive.length)
    return { found, taken: pieces.taken(), total: pieces.total }
  }
  const refusal = async (archive: Buffer, limits: Partial<ArchiveLimits> = {}) => {
    const pieces = inPieces(archive)
    const err = await rejection(t, containsPackJson(pieces.stream, { ...LIMITS, ...limits }, archive.length))
    return { err, taken: pieces.taken(), total: pieces.total }
  }
  const zeros = 1024 ** 3

  const first = await contains(await zerosBomb(zeros, [{ name: 'demo/pack.json', content: PACK_JSON }]))
  t.equal(first.found, true, 'pack.json before a bomb')
  t.ok(first.taken < first.total / 4, `stopped at pack.json: ${first.taken} of ${first.total} KiB read`)

  const roomy = { maxUnpackedBytes: 4 * zeros }
  const bomb = await refusal(await zerosBomb(zeros), roomy)
  t.equal(bomb.err.code, 'ARCHIVE_INVALID')
  t.match(bomb.err.detail, { reason: 'compression ratio', limit: 200 })
  t.ok(bomb.taken < bomb.total / 4, `a bomb without pack.json stops at the ratio: ${bomb.taken} of ${bomb.total} KiB read`)
  const hidden = await refusal(await zerosBomb(zeros, [{ name: 'README.md', content: 'hello' }]), roomy)
  t.match(hidden.err.detail, { reason: 'compression ratio' }, 'a pack.json after the bomb is never reached')

  const declared = await refusal(await zerosBomb(zeros), { maxCompressionRatio: 1_000_000 })
  t.match(declared.err.detail, { reason: 'unpacked size limit', limit: LIMITS.maxUnpackedBytes, entry: 'zeros.bin' }, 'an entry declaring more than limits.unpackedsize')
  t.ok(declared.taken < declared.total / 4, `refused at its header: ${declared.taken} of ${declared.total} KiB read`)

  const many = await refusal(await handArchive(Array.from({ length: 11 }, (_, i) => ({ name: `f${i}`, content: 'x' }))), { maxEntries: 10 })
  t.match(many.err, { code: 'ARCHIVE_INVALID', message: /more than 10 entries \(limits\.entries\)/ })
  const large = await refusal(await handArchive([{ name: 'noise', content: randomBytes(1024 * 1024) }]), { maxArchiveBytes: 32 * 1024 })
  t.match(large.err, { code: 'PAYLOAD_TOO_LARGE', message: /limits\.archivesize: 32768 bytes/ })
  t.ok(large.taken < large.total / 4, `an archive over limits.archivesize is refused at its first entry: ${large.taken} of ${large.total} KiB read`)

  const answers: Array<[string, Buffer, boolean]> = [
    ['pack.json at the root', await handArchive([{ name: 'pack.json', content: PACK_JSON }]), true],
    ['./pack.json', await handArchive([{ name: './pack.json', content: PACK_JSON }]), true],
    ['pack.json in one top folder, after other files', await handArchive([{ name: 'demo/values.yaml', content: 'a: 1\n' }, { name: 'demo/pack.json', content: PACK_JSON }]), true],
    ['pack.json two folders deep', await handArchive([{ name: 'a/b/pack.json', content: PACK_JSON }]), false],
    ['a gzip tar without pack.json', await handArchive([{ name: 'notes.txt', content: 'not a pack' }]), false],
    ['random bytes larger than limits.archivesize', randomBytes(64 * 1024), false],
    ['an uncompressed tar', await handTar([{ name: 'pack.json', content: PACK_JSON }]), false],
    ['gzip of random bytes', gzipSync(randomBytes(4096)), false],
    ['nothing', Buffer.alloc(0), false],
    ['a gzip tar cut short', (await handArchive([{ name: 'noise', content: randomBytes(8192) }, { name: 'pack.json', content: PACK_JSON }])).subarray(0, 2000), false],
  ]
  for (const [what, archive, expected] of answers) t.equal((await contains(archive, { maxArchiveBytes: 32 * 1024 })).found, expected, what)
})
