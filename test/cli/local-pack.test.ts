import t from 'tap'
import { createHash } from 'node:crypto'
import { chmodSync, cpSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { buffer as collect } from 'node:stream/consumers'
import { join } from 'node:path'
import { readLocalPack, stageArchive } from '../../src/cli/local-pack.js'
import { tempDir } from '../helpers.js'

function writePack(dir: string, packJson: object, files: Record<string, string> = { 'values.yaml': 'pack:\n  namespace: hello\n' }) {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'pack.json'), JSON.stringify(packJson))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
}

const HELLO = { name: 'hello', displayName: 'Hello', version: '1.0.0', layer: 'addon', group: 'lts' }

t.test('a valid folder: tag from group and version, archive folder name-version', async (t) => {
  const dir = join(tempDir(t), 'hello')
  writePack(dir, HELLO, { 'values.yaml': 'a: 1\n', 'README.md': '# hi\n', '.DS_Store': 'x', 'notes.tmp': 'x', '.packignore': '*.tmp\n' })
  const pack = await readLocalPack(dir)
  t.equal(pack.tag, 'lts__1.0.0')
  t.equal(pack.folder, 'hello-1.0.0')
  t.same(pack.files.map((f) => f.path), ['README.md', 'pack.json', 'values.yaml'])
})

t.test('the same folder gives the same archive digest from any copy, whatever the mtimes', async (t) => {
  const root = tempDir(t)
  const a = join(root, 'a', 'hello')
  writePack(a, HELLO, { 'values.yaml': 'a: 1\n', 'charts/x/templates/cm.yaml': 'kind: ConfigMap\n' })
  const b = join(root, 'b', 'hello')
  cpSync(a, b, { recursive: true })
  utimesSync(join(b, 'values.yaml'), new Date('2001-02-03'), new Date('2001-02-03'))
  chmodSync(join(b, 'pack.json'), 0o600)
  const staged = async (dir: string) => {
    const archive = await stageArchive(await readLocalPack(dir))
    const bytes = await collect(archive.open())
    t.ok((await collect(archive.open())).equals(bytes), 'it can be read again, for another attempt')
    await archive.remove()
    t.equal(archive.size, bytes.length)
    t.equal(archive.digest, `sha256:${createHash('sha256').update(bytes).digest('hex')}`, 'the digest is that of the bytes staged')
    return { digest: archive.digest, size: archive.size }
  }
  const first = await staged(a)
  t.same(await staged(b), first)
  t.match(first.digest, /^sha256:[0-9a-f]{64}$/)
  writeFileSync(join(b, 'values.yaml'), 'a: 2\n')
  t.not((await staged(b)).digest, first.digest, 'a content change changes the digest')
})

t.test('an archive too big to keep in memory goes through a private temp file, removed afterwards', async (t) => {
  const root = tempDir(t)
  const tmp = tempDir(t)
  const saved = process.env.TMPDIR
  process.env.TMPDIR = tmp
  t.teardown(() => {
    if (saved === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = saved
  })
  const dir = join(root, 'hello')
  writePack(dir, HELLO, { 'values.yaml': 'a: 1\n', 'charts/big.tgz': 'x'.repeat(100_000) })
  const pack = await readLocalPack(dir)
  const inMemory = await stageArchive(pack)
  t.same(readdirSync(tmp), [], 'a small archive stays in memory')
  const spilled = await stageArchive(pack, { inMemoryMax: 100 })
  const [folder] = readdirSync(tmp)
  t.match(folder, /^packyard-push-/)
  t.equal(statSync(join(tmp, folder as string, 'archive.tar.gz')).mode & 0o777, 0o600)
  t.same({ digest: spilled.digest, size: spilled.size }, { digest: inMemory.digest, size: inMemory.size })
  t.ok((await collect(spilled.open())).equals(await collect(inMemory.open())), 'the same bytes either way')
  await spilled.remove()
  t.same(readdirSync(tmp), [], 'remove() deletes the temp folder')

  const abort = new AbortController()
  abort.abort(new Error('refused'))
  await t.rejects(stageArchive(pack, { inMemoryMax: 100, signal: abort.signal }), { message: `cannot archive ${dir}: refused` })
  t.same(readdirSync(tmp), [], 'a stopped build leaves nothing behind')
})

t.test('local mistakes are caught before any upload, naming the folder', async (t) => {
  const root = tempDir(t)
  await t.rejects(readLocalPack(join(root, 'missing')), { message: `${join(root, 'missing')} does not exist` })
  writeFileSync(join(root, 'file'), '')
  await t.rejects(readLocalPack(join(root, 'file')), { message: /is not a folder; pack push takes the folder holding pack.json/ })
  mkdirSync(join(root, 'empty'))
  await t.rejects(readLocalPack(join(root, 'empty')), { message: /has no pack.json, so it is not a pack folder \(packyard pack build NAME DIR makes one/ })

  const bad = (name: string, packJson: object, files?: Record<string, string>) => {
    const dir = join(root, name)
    writePack(dir, packJson, files)
    return readLocalPack(dir)
  }
  await t.rejects(bad('noversion', { ...HELLO, version: undefined }), { message: `invalid pack in ${join(root, 'noversion')}: pack.json: version is required` })
  // What the registry accepts with a warning is a warning here too, and an error when strict.
  // (These test packs have no logo, a warning of its own left out here.)
  const warnings = async (name: string, packJson: object, files?: Record<string, string>) =>
    (await bad(name, packJson, files)).warnings.filter((w) => w.file !== 'logo.png').map((w) => w.message)
  t.match(await warnings('nolayer', { ...HELLO, layer: undefined }), ['pack.json: layer is required'])
  t.match(await warnings('novalues', HELLO, {}), [/^values.yaml is missing/])
  t.match(await warnings('nochart', { ...HELLO, charts: ['charts/x-1.0.0.tgz'] }), [/charts\[0\] names "charts\/x-1.0.0.tgz", which is not in the pack/])
  await t.rejects(readLocalPack(join(root, 'nochart'), { strict: true }), { message: /strict validation: warnings are errors.*charts\[0\] names/ })
  const yaml = { 'values.yaml': 'pack:\n  namespace: [hello\n', 'presets.yaml': 'a: 1\na: 2\n', 'schema.yaml': 'fine: true\n', 'charts/c/values.yaml': 'not: [checked\n' }
  t.same(await warnings('yaml', HELLO, yaml), ['values.yaml: line 3, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]', 'presets.yaml: line 2, column 1: duplicate key "a"'], 'the YAML files at the pack root, as the registry checks them')
  await t.rejects(readLocalPack(join(root, 'yaml'), { strict: true }), { message: /strict validation: warnings are errors.*values\.yaml: line 3, column 1: / })
  t.same(await warnings('ignoredyaml', HELLO, { ...yaml, '.packignore': 'presets.yaml\n' }), ['values.yaml: line 3, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]'], 'a file left out by .packignore is not pushed, so not checked')
  await t.rejects(bad('ignored', HELLO, { 'values.yaml': '', '.packignore': 'pack.json\n' }), { message: /pack.json is left out by .*\.packignore/ })
  const syntax = join(root, 'syntax')
  mkdirSync(syntax)
  writeFileSync(join(syntax, 'pack.json'), '{"name": "x",}')
  await t.rejects(readLocalPack(syntax), { message: /pack.json: not valid JSON at line 1, column 14/ })
})
