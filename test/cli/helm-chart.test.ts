import t from 'tap'
import { createReadStream, createWriteStream, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parse } from 'yaml'
import { type ArchiveInput, writeReproducibleArchive } from '../../src/packs/archive-write.js'
import { type Chart, chartArchiveName, collectChartFiles, findCharts, namespaceFor, packValuesYaml, parseChartYaml, readChart } from '../../src/cli/helm-chart.js'
import { tempDir } from '../helpers.js'
import { zerosBomb } from '../tar-fixtures.js'

const CHART_YAML = 'apiVersion: v2\nname: mychart\ndescription: A demo chart\nversion: 1.10\n'
const VALUES = '# replicas to run\nreplicaCount: 1\nimage:\n  repository: nginx # the image\n  tag: ""\nscript: |\n  echo hi\n\n  echo there\n'

function chartFolder(dir: string, files: Record<string, string> = {}): string {
  mkdirSync(join(dir, 'templates'), { recursive: true })
  writeFileSync(join(dir, 'Chart.yaml'), CHART_YAML)
  writeFileSync(join(dir, 'values.yaml'), VALUES)
  writeFileSync(join(dir, 'templates', 'cm.yaml'), 'kind: ConfigMap\n')
  for (const [path, text] of Object.entries(files)) writeFileSync(join(dir, path), text)
  return dir
}

async function tgz(path: string, top: string, files: Record<string, string>): Promise<string> {
  const inputs: ArchiveInput[] = Object.entries(files).map(([p, text]) => ({ path: p, size: Buffer.byteLength(text), mode: 0o644, open: () => Readable.from([Buffer.from(text)]) }))
  await pipeline(writeReproducibleArchive(top, inputs), createWriteStream(path))
  return path
}

t.test('Chart.yaml: every scalar a string, name and version required and file-name safe', async (t) => {
  t.same(parseChartYaml(CHART_YAML, 'Chart.yaml'), { name: 'mychart', version: '1.10', description: 'A demo chart' }, '1.10 stays 1.10')
  t.same(parseChartYaml('name: a\nversion: 1.0.0+build.1\n', 'C'), { name: 'a', version: '1.0.0+build.1', description: undefined })
  t.throws(() => parseChartYaml('name: a\n', 'C'), /^C has no version$/)
  t.throws(() => parseChartYaml('version: 1\n', 'C'), /^C has no name$/)
  t.throws(() => parseChartYaml('- a\n', 'C'), /must be a YAML mapping/)
  t.throws(() => parseChartYaml('name: a/b\nversion: 1\n', 'C'), /name "a\/b" may only hold/)
  t.throws(() => parseChartYaml('name: [a\n', 'C'), /^C is not valid YAML/)
})

t.test('a chart folder: metadata, values text, .helmignore honoured', async (t) => {
  const dir = chartFolder(join(tempDir(t), 'src'), { '.helmignore': '*.bak\n', 'old.bak': 'x', '.DS_Store': 'x' })
  const chart = await readChart(dir)
  t.same(chart, { source: dir, kind: 'folder', name: 'mychart', version: '1.10', description: 'A demo chart', valuesText: VALUES })
  t.equal(chartArchiveName(chart), 'mychart-1.10.tgz')
  t.same((await collectChartFiles(dir)).map((f) => f.path), ['.helmignore', 'Chart.yaml', 'templates/cm.yaml', 'values.yaml'])
  await t.rejects(readChart(join(dir, 'templates')), /is not a Helm chart: it has no Chart.yaml/)
  await t.rejects(readChart(join(dir, 'nope')), /nope does not exist/)
})

t.test('a chart .tgz: read from its single top folder', async (t) => {
  const dir = tempDir(t)
  const path = await tgz(join(dir, 'mychart-1.10.tgz'), 'mychart', { 'Chart.yaml': CHART_YAML, 'values.yaml': VALUES, 'charts/sub/Chart.yaml': 'name: sub\nversion: 9\n' })
  t.same(await readChart(path), { source: path, kind: 'tgz', name: 'mychart', version: '1.10', description: 'A demo chart', valuesText: VALUES })
  const novalues = await tgz(join(dir, 'b.tgz'), 'b', { 'Chart.yaml': 'name: b\nversion: 2.0.0\n' })
  t.equal((await readChart(novalues)).valuesText, null)
  await t.rejects(readChart(await tgz(join(dir, 'c.tgz'), 'c', { 'values.yaml': '' })), /has no Chart.yaml in its top-level folder/)
  writeFileSync(join(dir, 'junk.tgz'), 'not gzip')
  await t.rejects(readChart(join(dir, 'junk.tgz')), /junk.tgz is not a readable Helm chart archive \(.tgz\)/)
  writeFileSync(join(dir, 'bomb.tgz'), await zerosBomb(1024 ** 3, [{ name: 'bomb/Chart.yaml', content: 'name: bomb\nversion: 1.0.0\n' }]))
  await t.rejects(readChart(join(dir, 'bomb.tgz')), /bomb.tgz is not a readable Helm chart archive \(.tgz\): the archive unpacks to more than 200 times its compressed size/)
})

t.test('findCharts: chart folders and .tgz files directly in the folder, never charts/', async (t) => {
  const dir = tempDir(t)
  chartFolder(join(dir, 'b-chart'))
  mkdirSync(join(dir, 'charts', 'inner'), { recursive: true })
  writeFileSync(join(dir, 'charts', 'inner', 'Chart.yaml'), CHART_YAML)
  mkdirSync(join(dir, 'not-a-chart'))
  writeFileSync(join(dir, 'a.tgz'), '')
  writeFileSync(join(dir, 'readme.md'), '')
  t.same(await findCharts(dir), [join(dir, 'a.tgz'), join(dir, 'b-chart')])
})

t.test('values.yaml: pack.namespace and the chart values nested with their comments', async (t) => {
  const chart: Chart = { source: 's', kind: 'folder', name: 'mychart', version: '1', description: undefined, valuesText: VALUES }
  const text = packValuesYaml('my.pack_name', [chart])
  t.equal(
    text,
    'pack:\n  namespace: "my-pack-name"\n\ncharts:\n  mychart:\n    # replicas to run\n    replicaCount: 1\n    image:\n      repository: nginx # the image\n      tag: ""\n    script: |\n      echo hi\n\n      echo there\n',
  )
  t.same(parse(text).charts.mychart, parse(VALUES), 'the nested values mean exactly the chart values')

  const empty = packValuesYaml('p', [{ ...chart, valuesText: '# nothing here\n' }, { ...chart, name: 'other', valuesText: null }])
  t.equal(empty, 'pack:\n  namespace: "p"\n\ncharts:\n  mychart: {}\n  other: {}\n')

  const directive = packValuesYaml('p', [{ ...chart, valuesText: '%YAML 1.2\n---\na: 1\nb: [x, y]\n' }])
  t.same(parse(directive).charts.mychart, { a: 1, b: ['x', 'y'] }, 'text that cannot be indented is re-serialised')

  t.throws(() => packValuesYaml('p', [{ ...chart, valuesText: '- a\n' }]), /values.yaml of chart mychart \(s\) must be a mapping/)
  t.throws(() => packValuesYaml('p', [{ ...chart, valuesText: 'a: [\n' }]), /values.yaml of chart mychart \(s\) is not valid YAML/)
  t.equal(namespaceFor('a'.repeat(70)), 'a'.repeat(63))
  t.equal(namespaceFor('x'.repeat(62) + '.y'), 'x'.repeat(62))
})

t.test('chart folder archives are reproducible', async (t) => {
  const root = tempDir(t)
  const one = chartFolder(join(root, 'one'))
  const two = chartFolder(join(root, 'two'))
  const write = async (dir: string, out: string) => {
    await pipeline(writeReproducibleArchive('mychart', await collectChartFiles(dir)), createWriteStream(out))
    return out
  }
  const a = await write(one, join(root, 'a.tgz'))
  const b = await write(two, join(root, 'b.tgz'))
  t.equal(statSync(a).size, statSync(b).size)
  const bytes = async (p: string) => Buffer.concat(await createReadStream(p).toArray())
  t.ok((await bytes(a)).equals(await bytes(b)))
  t.same(await readChart(a), { ...(await readChart(one)), source: a, kind: 'tgz' })
})
