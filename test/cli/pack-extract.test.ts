// Unpacking a pulled archive: where the pack lands, what is refused, and that no half-written
// folder survives any failure.

import t from 'tap'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { buffer as collect } from 'node:stream/consumers'
import { handArchive, type HandEntry, zerosBomb } from '../tar-fixtures.js'
import { extractPackArchive } from '../../src/cli/pack-extract.js'
import { writeReproducibleArchive, type ArchiveInput } from '../../src/packs/archive-write.js'

function input(path: string, content: string, mode = 0o644): ArchiveInput {
  const bytes = Buffer.from(content)
  return { path, size: bytes.length, mode, open: () => Readable.from([bytes]) }
}


const PACK = [input('pack.json', '{"name":"demo"}'), input('values.yaml', 'a: 1\n'), input('bin/run.sh', '#!/bin/sh\n', 0o755)]

t.test('strips the top-level folder and keeps the exec bit', async (t) => {
  const target = t.testdir({})
  const folder = await extractPackArchive(writeReproducibleArchive('whatever-0.0.1', PACK), target, 'demo-1.0.0')
  t.equal(folder, join(target, 'demo-1.0.0'))
  t.same(readdirSync(target), ['demo-1.0.0'], 'no temporary folder left')
  t.same(readdirSync(folder).sort(), ['bin', 'pack.json', 'values.yaml'])
  t.equal(readFileSync(join(folder, 'values.yaml'), 'utf8'), 'a: 1\n')
  t.equal(statSync(join(folder, 'bin/run.sh')).mode & 0o100, 0o100)
  t.equal(statSync(join(folder, 'pack.json')).mode & 0o111, 0)
})

t.test('an archive without a top-level folder', async (t) => {
  const target = t.testdir({})
  const archive = await handArchive([
    { name: './', type: 'directory' },
    { name: './pack.json', content: '{}' },
    { name: './charts/a.tgz', content: 'a' },
  ])
  const folder = await extractPackArchive(Readable.from([archive]), target, 'demo-1.0.0')
  t.same(readdirSync(target), ['demo-1.0.0'])
  t.equal(readFileSync(join(folder, 'charts/a.tgz'), 'utf8'), 'a')
  // here the temporary folder itself becomes the pack folder
  t.equal(statSync(folder).mode & 0o777, statSync(target).mode & 0o777, 'usual folder permissions, not 0700')
})

t.test('refuses to replace an existing folder', async (t) => {
  const target = t.testdir({ 'demo-1.0.0': { 'mine.txt': 'keep me' } })
  const archive = writeReproducibleArchive('demo-1.0.0', PACK)
  await t.rejects(extractPackArchive(archive, target, 'demo-1.0.0'), { message: /demo-1\.0\.0 already exists/ })
  t.same(readdirSync(target), ['demo-1.0.0'])
  t.same(readdirSync(join(target, 'demo-1.0.0')), ['mine.txt'])
  t.ok(archive.destroyed, 'the download is stopped')
})

t.test('replace: the complete new folder takes the place of the old one, with or without a top-level folder', async (t) => {
  const target = t.testdir({ 'demo-1.0.0': { 'mine.txt': 'stale' } })
  await extractPackArchive(writeReproducibleArchive('demo-1.0.0', PACK), target, 'demo-1.0.0', { replace: true })
  t.same(readdirSync(target), ['demo-1.0.0'], 'nothing left beside it')
  t.same(readdirSync(join(target, 'demo-1.0.0')).sort(), ['bin', 'pack.json', 'values.yaml'])
  const flat = await handArchive([{ name: './pack.json', content: '{}' }])
  await extractPackArchive(Readable.from([flat]), target, 'demo-1.0.0', { replace: true })
  t.same(readdirSync(target), ['demo-1.0.0'])
  t.same(readdirSync(join(target, 'demo-1.0.0')), ['pack.json'], 'the temporary folder itself became the pack, holding nothing of the old one')
  const broken = await handArchive([{ name: 'demo/values.yaml', content: 'no pack.json' }])
  await t.rejects(extractPackArchive(Readable.from([broken]), target, 'demo-1.0.0', { replace: true }))
  t.same(readdirSync(join(target, 'demo-1.0.0')), ['pack.json'], 'a failed pull leaves the old folder as it was')
})

t.test('refuses invalid folder names', async (t) => {
  const target = t.testdir({})
  for (const name of ['', '.', '..', 'a/b', 'a\\b']) {
    await t.rejects(extractPackArchive(writeReproducibleArchive('x', PACK), target, name), { message: /invalid folder name/ })
  }
  t.same(readdirSync(target), [])
})

const BASE: HandEntry[] = [
  { name: 'demo/', type: 'directory' },
  { name: 'demo/pack.json', content: '{}' },
]

const refused: Array<{ name: string; entries: HandEntry[]; message: RegExp }> = [
  { name: 'a parent segment', entries: [...BASE, { name: 'demo/../../escaped.txt', content: 'x' }], message: /demo\/\.\.\/\.\.\/escaped\.txt/ },
  { name: 'an absolute path', entries: [...BASE, { name: '/tmp/escaped.txt', content: 'x' }], message: /\/tmp\/escaped\.txt.*absolute/ },
  { name: 'a symbolic link', entries: [...BASE, { name: 'demo/link', type: 'symlink', linkname: '/etc' }], message: /demo\/link.*symbolic/ },
  { name: 'a hard link', entries: [...BASE, { name: 'demo/hard', type: 'link', linkname: '/etc/passwd' }], message: /demo\/hard.*hard link/ },
  {
    name: 'a device',
    entries: [...BASE, { name: 'demo/null', type: 'character-device', devmajor: 1, devminor: 3 }],
    message: /demo\/null.*device/,
  },
  {
    name: 'a duplicated path',
    entries: [
      ...BASE,
      { name: 'demo/values.yaml', content: 'a' },
      { name: 'demo/values.yaml', content: 'b' },
    ],
    message: /demo\/values\.yaml.*twice/,
  },
  {
    name: 'a file where a folder is',
    entries: [
      ...BASE,
      { name: 'demo/charts', content: 'a' },
      { name: 'demo/charts/x', content: 'b' },
    ],
    message: /demo\/charts\/x/,
  },
  { name: 'no pack.json', entries: [{ name: 'demo/values.yaml', content: 'a' }], message: /pack\.json not found/ },
  {
    name: 'two top-level folders',
    entries: [...BASE, { name: 'other/x', content: 'b' }],
    message: /pack\.json not found/,
  },
]

for (const c of refused) {
  t.test(`refuses ${c.name} and leaves nothing behind`, async (t) => {
    const parent = t.testdir({ target: {} })
    const target = join(parent, 'target')
    const archive = await handArchive(c.entries)
    await t.rejects(extractPackArchive(Readable.from([archive]), target, 'demo-1.0.0'), { message: c.message })
    t.same(readdirSync(target), [])
    t.same(readdirSync(parent), ['target'])
    t.notOk(existsSync('/tmp/escaped.txt'))
  })
}

t.test('a corrupt or truncated download leaves nothing behind', async (t) => {
  const target = t.testdir({})
  const good = await collect(writeReproducibleArchive('demo', [...PACK, input('charts/big.bin', 'x'.repeat(100000))]))
  const cases: Array<[string, Buffer]> = [
    ['truncated', good.subarray(0, good.length - 200)],
    ['not gzip', Buffer.from('<html>502 Bad Gateway</html>')],
  ]
  for (const [name, bytes] of cases) {
    await t.rejects(extractPackArchive(Readable.from([bytes]), target, 'demo-1.0.0'), { message: /cannot unpack the pack archive/ }, name)
    t.same(readdirSync(target), [], name)
  }
})

t.test('a download that fails midway leaves nothing behind', async (t) => {
  const target = t.testdir({})
  mkdirSync(join(target, 'unrelated'))
  const good = await collect(writeReproducibleArchive('demo', PACK))
  let sent = false
  const failing = new Readable({
    read() {
      if (sent) return void this.destroy(new Error('socket hang up'))
      sent = true
      this.push(good.subarray(0, 200))
    },
  })
  await t.rejects(extractPackArchive(failing, target, 'demo-1.0.0'), { message: /socket hang up/ })
  t.same(readdirSync(target), ['unrelated'])
})

t.test('a decompression bomb from a hostile server is refused under the default limits, having written little', async (t) => {
  const target = t.testdir({})
  const bomb = await zerosBomb(1024 ** 3, [{ name: 'pack.json', content: '{"name":"demo"}' }])
  const cpu = process.cpuUsage()
  await t.rejects(extractPackArchive(Readable.from([bomb]), target, 'demo-1.0.0'), { message: /more than 200 times its compressed size/ })
  const { user, system } = process.cpuUsage(cpu)
  t.ok(user + system < 1_000_000, `refused after ${((user + system) / 1000).toFixed(0)} ms of CPU`)
  t.same(readdirSync(target), [], 'nothing left behind')
})
