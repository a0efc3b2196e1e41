// Reading the gzip tars inside a pack for the pack browser: listing their files, reading the
// head of one, and the archive limits and entry rules applied to both (a hostile chart is an
// ARCHIVE_INVALID naming the rule, fast).

import t from 'tap'
import { Readable } from 'node:stream'
import { listTar, readTarFile } from '../../src/packs/archive-files.js'
import type { ArchiveLimits } from '../../src/packs/archive-read.js'
import { handArchive, zerosBomb } from '../tar-fixtures.js'

const LIMITS: ArchiveLimits = { maxArchiveBytes: 64 * 1024 * 1024, maxUnpackedBytes: 256 * 1024 * 1024, maxEntries: 20, maxExtractedFileBytes: 1024 * 1024, maxCompressionRatio: 200 }
const from = (data: Buffer) => Readable.from([data])

t.test('a chart: its files listed, folders left out, and any file read', async (t) => {
  const tgz = await handArchive([
    { name: 'app/', type: 'directory' },
    { name: 'app/Chart.yaml', content: 'name: app\n' },
    { name: './app/empty.txt', content: '' },
    { name: 'app/templates/cm.yaml', content: 'kind: ConfigMap\n' },
  ])
  t.same(await listTar(from(tgz), LIMITS, 10), {
    files: [
      { path: 'app/Chart.yaml', size: 10 },
      { path: 'app/empty.txt', size: 0 },
      { path: 'app/templates/cm.yaml', size: 16 },
    ],
    total: 3,
    unpackedSize: 26,
  })
  t.same((await listTar(from(tgz), LIMITS, 1)).files, [{ path: 'app/Chart.yaml', size: 10 }], 'only the first maxListed')
  t.same(await readTarFile(from(tgz), LIMITS, 'app/templates/cm.yaml', 100), { size: 16, data: Buffer.from('kind: ConfigMap\n'), truncated: false })
  t.same(await readTarFile(from(tgz), LIMITS, 'app/templates/cm.yaml', 4), { size: 16, data: Buffer.from('kind'), truncated: true }, 'the head of a file')
  t.same(await readTarFile(from(tgz), LIMITS, 'app/empty.txt', 4), { size: 0, data: Buffer.alloc(0), truncated: false })
  t.equal(await readTarFile(from(tgz), LIMITS, 'app/nope.yaml', 4), null, 'no such file')
  t.equal(await readTarFile(from(tgz), LIMITS, 'app', 4), null, 'a folder is no file')
})

t.test('a large file is read only as far as its head', async (t) => {
  const big = Buffer.alloc(8 * 1024 * 1024, 'a')
  const tgz = await handArchive([{ name: 'big.txt', content: big }, { name: 'after.txt', content: 'after' }])
  const head = await readTarFile(from(tgz), LIMITS, 'big.txt', 1000)
  t.same(head, { size: big.length, data: big.subarray(0, 1000), truncated: true })
})

t.test('hostile archives: each rule and limit, named', async (t) => {
  const cases: Array<[string, () => Promise<Buffer>, RegExp]> = [
    ['a parent directory', () => handArchive([{ name: '../../etc/passwd', content: 'x' }]), /parent directory \(\.\.\) in path/],
    ['an absolute path', () => handArchive([{ name: '/etc/passwd', content: 'x' }]), /absolute path/],
    ['a symbolic link', () => handArchive([{ name: 'evil', type: 'symlink', linkname: '/etc/passwd' }]), /symbolic links are not allowed/],
    ['a device', () => handArchive([{ name: 'dev', type: 'character-device' }]), /devices are not allowed/],
    ['too many entries', () => handArchive(Array.from({ length: 21 }, (_, i) => ({ name: `f${i}`, content: 'x' }))), /more than 20 entries/],
    ['a gzip bomb', () => zerosBomb(64 * 1024 * 1024, [{ name: 'Chart.yaml', content: 'name: bomb\n' }]), /more than 200 times its compressed size/],
    ['not gzip', async () => Buffer.from('plain text, no gzip'), /not a gzip tar archive/],
    ['cut short', async () => (await handArchive([{ name: 'a', content: 'x'.repeat(5000) }])).subarray(0, 40), /truncated/],
  ]
  for (const [what, make, message] of cases) {
    const tgz = await make()
    const started = Date.now()
    await t.rejects(listTar(from(tgz), LIMITS, 10), { code: 'ARCHIVE_INVALID', message }, `${what}: listing`)
    await t.rejects(readTarFile(from(tgz), LIMITS, 'not-there', 10), { code: 'ARCHIVE_INVALID', message }, `${what}: reading`)
    t.ok(Date.now() - started < 5000, `${what}: refused at once`)
  }
  const sized = await handArchive([{ name: 'a', content: 'x'.repeat(600) }, { name: 'b', content: 'y'.repeat(600) }])
  await t.rejects(listTar(from(sized), { ...LIMITS, maxUnpackedBytes: 1000 }, 10), { code: 'ARCHIVE_INVALID', message: /unpacks to more than 1000 bytes/ })
})
