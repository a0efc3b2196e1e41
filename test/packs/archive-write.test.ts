// Reproducible archives: the exact layout of what we write, byte-identical output for the same
// files whatever their timestamps or how they are read, and the errors for bad input.

import t from 'tap'
import { execFileSync } from 'node:child_process'
import { createReadStream, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { buffer as collect } from 'node:stream/consumers'
import { gunzipSync } from 'node:zlib'
import { extract, type Header, pack as tarStreamPack } from 'tar-stream'
import { comparePaths, writeReproducibleArchive, type ArchiveInput } from '../../src/packs/archive-write.js'
import { readPackArchive } from '../../src/packs/archive-read.js'

const LIMITS = { maxArchiveBytes: 1 << 30, maxUnpackedBytes: 1 << 30, maxEntries: 10000, maxExtractedFileBytes: 1 << 20, maxCompressionRatio: 200 }

function input(path: string, content: string | Buffer, mode = 0o644): ArchiveInput {
  const bytes = Buffer.from(content)
  return { path, size: bytes.length, mode, open: () => Readable.from([bytes]) }
}

/** Inputs read from a folder on disk, with a chosen read chunk size. */
function fromDisk(dir: string, paths: string[], highWaterMark = 64 * 1024): ArchiveInput[] {
  return paths.map((path) => {
    const abs = join(dir, path)
    const stats = statSync(abs)
    return { path, size: stats.size, mode: stats.mode, open: () => createReadStream(abs, { highWaterMark }) }
  })
}

async function headersOf(archive: Buffer): Promise<Array<Header & { content: string }>> {
  const out: Array<Header & { content: string }> = []
  for await (const entry of extract().end(gunzipSync(archive))) {
    const chunks: Buffer[] = []
    for await (const chunk of entry) chunks.push(chunk as Buffer)
    out.push({ ...entry.header, content: Buffer.concat(chunks).toString() })
  }
  return out
}

const PACK_FILES = [
  input('values.yaml', 'a: 1\n'),
  input('pack.json', '{"name":"demo"}'),
  input('charts/demo-1.0.0.tgz', 'chart'),
  input('bin/run.sh', '#!/bin/sh\n', 0o100775),
  input('charts/sub/deep.txt', 'deep'),
  input('charts-extra.txt', 'sorts between charts/ entries by bytes'),
]

t.test('layout: sorted, folders first, fixed times, owners and modes', async (t) => {
  const archive = await collect(writeReproducibleArchive('demo-1.0.0', PACK_FILES))
  const headers = await headersOf(archive)
  t.same(
    headers.map((h) => h.name),
    [
      'demo-1.0.0/',
      'demo-1.0.0/bin/',
      'demo-1.0.0/bin/run.sh',
      'demo-1.0.0/charts-extra.txt',
      'demo-1.0.0/charts/',
      'demo-1.0.0/charts/demo-1.0.0.tgz',
      'demo-1.0.0/charts/sub/',
      'demo-1.0.0/charts/sub/deep.txt',
      'demo-1.0.0/pack.json',
      'demo-1.0.0/values.yaml',
    ],
  )
  for (const h of headers) {
    t.equal(h.mtime.toISOString(), '2000-01-01T00:00:00.000Z', h.name)
    t.equal(h.uid, 0)
    t.equal(h.gid, 0)
    t.equal(h.uname, '')
    t.equal(h.gname, '')
    const expected = h.type === 'directory' || h.name.endsWith('run.sh') ? 0o755 : 0o644
    t.equal(h.mode, expected, `${h.name} mode`)
  }
  t.equal(headers.find((h) => h.name === 'demo-1.0.0/values.yaml')?.content, 'a: 1\n')
})

t.test('gzip header: no time, no name, unix', async (t) => {
  const archive = await collect(writeReproducibleArchive('demo', [input('pack.json', '{}')]))
  // magic, deflate, no flags, mtime 0, xfl 0 (level 6), OS 3
  t.same([...archive.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])
})

t.test('a trailing slash on the top folder changes nothing', async (t) => {
  const a = await collect(writeReproducibleArchive('demo', PACK_FILES))
  const b = await collect(writeReproducibleArchive('demo/', PACK_FILES))
  t.ok(a.equals(b))
})

t.test('same folder, same bytes: whatever the mtimes, input order or read chunk size', async (t) => {
  const dir = t.testdir({
    'pack.json': '{"name":"demo"}',
    'values.yaml': 'a: 1\n'.repeat(5000),
    charts: { 'demo-1.0.0.tgz': Buffer.alloc(300 * 1024, 7) },
    docs: { 'README.md': '# readme\n' },
  })
  const paths = ['pack.json', 'values.yaml', 'charts/demo-1.0.0.tgz', 'docs/README.md']
  const first = await collect(writeReproducibleArchive('demo-1.0.0', fromDisk(dir, paths)))

  for (const [i, path] of paths.entries()) utimesSync(join(dir, path), new Date(2011, i, 1), new Date(2015, i, 1))
  const touched = await collect(writeReproducibleArchive('demo-1.0.0', fromDisk(dir, paths)))
  const reordered = await collect(writeReproducibleArchive('demo-1.0.0', fromDisk(dir, [...paths].reverse(), 1000)))

  t.ok(first.equals(touched), 'mtimes on disk do not matter')
  t.ok(first.equals(reordered), 'input order and chunking do not matter')
})

t.test('round trip through the reader', async (t) => {
  const archive = await collect(writeReproducibleArchive('demo-1.0.0', PACK_FILES))
  const result = await readPackArchive(Readable.from([archive]), LIMITS)
  t.equal(result.root, 'demo-1.0.0/')
  t.same(
    result.files.map((f) => f.path),
    PACK_FILES.map((f) => f.path).sort(comparePaths),
  )
  t.same(result.extracted.get('values.yaml')?.toString(), 'a: 1\n')

  const renamed = await readPackArchive(writeReproducibleArchive('elsewhere', PACK_FILES), LIMITS)
  t.equal(renamed.contentDigest, result.contentDigest, 'the folder name is not part of the content')
})

t.test('long and non-ASCII paths are written with pax headers, reproducibly', async (t) => {
  const long = `${'d'.repeat(120)}/${'f'.repeat(120)}.txt`
  const files = [input('pack.json', '{}'), input(long, 'long'), input('ünï.txt', 'u')]
  const a = await collect(writeReproducibleArchive('demo', files))
  const b = await collect(writeReproducibleArchive('demo', files))
  t.ok(a.equals(b))
  const result = await readPackArchive(Readable.from([a]), LIMITS)
  t.same(
    result.files.map((f) => f.path),
    [long, 'pack.json', 'ünï.txt'],
  )
})

t.test('GNU tar reads what we write', async (t) => {
  const dir = t.testdir({})
  writeFileSync(join(dir, 'a.tgz'), await collect(writeReproducibleArchive('demo-1.0.0', PACK_FILES)))
  execFileSync('tar', ['-xzf', join(dir, 'a.tgz'), '-C', dir])
  const listing = execFileSync('tar', ['-tzf', join(dir, 'a.tgz')]).toString().trim().split('\n')
  t.equal(listing.length, 10)
  t.equal(statSync(join(dir, 'demo-1.0.0/bin/run.sh')).mode & 0o111, 0o111)
  t.equal(statSync(join(dir, 'demo-1.0.0/pack.json')).mode & 0o111, 0)
})

t.test('a file that does not deliver its size fails the stream, naming it', async (t) => {
  const short: ArchiveInput = { path: 'charts/short.tgz', size: 10, mode: 0o644, open: () => Readable.from([Buffer.from('abc')]) }
  await t.rejects(collect(writeReproducibleArchive('demo', [input('pack.json', '{}'), short])), {
    message: /charts\/short\.tgz changed while it was being archived: expected 10 bytes, got 3/,
  })
  const long: ArchiveInput = { path: 'grown.txt', size: 2, mode: 0o644, open: () => Readable.from([Buffer.from('abcdef')]) }
  await t.rejects(collect(writeReproducibleArchive('demo', [long])), { message: /grown\.txt changed/ })
  const broken: ArchiveInput = {
    path: 'gone.txt',
    size: 2,
    mode: 0o644,
    open: () => createReadStream('/nonexistent/gone.txt'),
  }
  await t.rejects(collect(writeReproducibleArchive('demo', [broken])), { code: 'ENOENT' })
})

t.test('bad input throws at once', async (t) => {
  const cases: Array<[string, string, ArchiveInput[]]> = [
    ['parent segment', 'demo', [input('../x', 'x')]],
    ['absolute', 'demo', [input('/etc/passwd', 'x')]],
    ['empty segment', 'demo', [input('a//b', 'x')]],
    ['dot segment', 'demo', [input('./a', 'x')]],
    ['backslash', 'demo', [input('a\\b', 'x')]],
    ['duplicate', 'demo', [input('a', 'x'), input('a', 'y')]],
    ['file and folder', 'demo', [input('a', 'x'), input('a/b', 'y')]],
    ['negative size', 'demo', [{ ...input('a', 'x'), size: -1 }]],
    ['empty top folder', '', [input('a', 'x')]],
    ['nested top folder', 'a/b', [input('a', 'x')]],
    ['dot-dot top folder', '..', [input('a', 'x')]],
  ]
  for (const [name, top, files] of cases) t.throws(() => writeReproducibleArchive(top, files), name)
})

t.test('comparePaths orders by UTF-8 bytes', async (t) => {
  t.same(['b', 'a/', 'a-b', 'B', '\u{1F600}', '\uFFFD'].sort(comparePaths), ['B', 'a-b', 'a/', 'b', '\uFFFD', '\u{1F600}'])
})

/**
 * The tar that tar-stream's packer wrote for the same entries, the way this module used it before
 * it wrote its own headers: the oracle that keeps every archive digest what it was.
 */
async function tarStreamTar(top: string, files: ArchiveInput[]): Promise<Buffer> {
  const dirs = new Set<string>([`${top}/`])
  for (const f of files) {
    const parts = f.path.split('/')
    for (let i = 1; i < parts.length; i++) dirs.add(`${top}/${parts.slice(0, i).join('/')}/`)
  }
  const entries = [...[...dirs].map((name) => ({ name, file: undefined as ArchiveInput | undefined })), ...files.map((file) => ({ name: `${top}/${file.path}`, file }))].sort((a, b) =>
    comparePaths(a.name, b.name),
  )
  const tar = tarStreamPack()
  const collected = collect(tar)
  for (const { name, file } of entries) {
    const header = { name, mtime: new Date(Date.UTC(2000, 0, 1)), uid: 0, gid: 0, uname: '', gname: '' }
    if (file === undefined) {
      tar.entry({ ...header, type: 'directory', mode: 0o755 })
      continue
    }
    const sink = tar.entry({ ...header, type: 'file', mode: (file.mode & 0o111) !== 0 ? 0o755 : 0o644, size: file.size })
    for await (const chunk of file.open()) sink.write(chunk as Buffer)
    await new Promise<void>((resolve, reject) => sink.end((err?: Error | null) => (err ? reject(err) : resolve())))
  }
  tar.finalize()
  return collected
}

t.test('the tar bytes are those tar-stream wrote: long, deep, non-ASCII names, exec bits, sizes', async (t) => {
  const cases: Array<[string, ArchiveInput[]]> = [
    ['a pack', PACK_FILES],
    ['empty and block-sized files', [input('empty.txt', ''), input('block.bin', Buffer.alloc(512, 7)), input('odd.bin', Buffer.alloc(1000, 9))]],
    ['a path split into prefix and name', [input(`${'d'.repeat(60)}/${'e'.repeat(60)}/f.txt`, 'split')]],
    ['a segment longer than 100 characters (pax)', [input(`${'x'.repeat(101)}.yaml`, 'pax')]],
    ['a prefix longer than 155 characters (pax)', [input(`${Array.from({ length: 12 }, (_, i) => `folder-${i}-${'p'.repeat(8)}`).join('/')}/leaf.txt`, 'deep')]],
    ['a name that is not ASCII (pax)', [input('charts/ünïcode-värden.yaml', 'utf-8'), input('日本.txt', 'x', 0o755)]],
    ['a pax record whose length gains a digit', [input(`${'y'.repeat(92)}/${'z'.repeat(101)}`, 'digits')]],
  ]
  for (const [what, files] of cases) {
    const ours = gunzipSync(await collect(writeReproducibleArchive('top-1.0.0', files)))
    t.ok(ours.equals(await tarStreamTar('top-1.0.0', files)), what)
  }
})
