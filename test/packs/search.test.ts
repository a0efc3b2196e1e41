// The pack browser's search rules, table by table: what typed text becomes as an FTS5 query
// (hostile syntax quoted, never a query operator), which filters a request sets, what of a
// pack.json is searched, and how much of a README. The queries are also run against a real
// FTS5 table to show none is a syntax error and each finds what it should.

import Database from 'better-sqlite3'
import t from 'tap'
import { ftsQuery, packFilter, README_SEARCH_BYTES, readmeText, searchDocument } from '../../src/packs/search.js'

t.test('ftsQuery: every word quoted as a prefix, all required; nothing searchable is null', async (t) => {
  const cases: Array<[string, string | null]> = [
    ['ingress', '"ingress"*'],
    ['  Ingress   controller ', '"Ingress"* "controller"*'],
    ['"quoted"', '"""quoted"""*'],
    ['a"b', '"a""b"*'],
    ['nginx*', '"nginx*"*'],
    ['-calico', '"-calico"*'],
    ['NEAR(a b)', '"NEAR(a"* "b)"*'],
    ['a OR b AND NOT c', '"a"* "OR"* "b"* "AND"* "NOT"* "c"*'],
    ['name:calico', '"name:calico"*'],
    ['^start', '"^start"*'],
    ['café', '"café"*'],
    ['日本', '"日本"*'],
    ['', null],
    ['   ', null],
    ['* - ( ) " :', null],
    ['\u0000', null],
    ['a\u0000b', '"a"* "b"*'],
    ['x '.repeat(40), Array(16).fill('"x"*').join(' ')],
  ]
  for (const [typed, expected] of cases) t.equal(ftsQuery(typed), expected, JSON.stringify(typed))
})

t.test('ftsQuery: no typed text is an FTS5 syntax error, and words are found as prefixes', async (t) => {
  const db = new Database(':memory:')
  t.teardown(() => db.close())
  db.exec("CREATE VIRTUAL TABLE s USING fts5(name, readme, tokenize = 'unicode61 remove_diacritics 2')")
  db.prepare('INSERT INTO s (rowid, name, readme) VALUES (?, ?, ?)').run(1, 'nginx-ingress', 'An Ingress controller "for" Kubernetes, at the café')
  const match = db.prepare('SELECT rowid FROM s WHERE s MATCH ?').pluck()
  const cases: Array<[string, number[]]> = [
    ['ingress', [1]],
    ['INGR', [1]],
    ['controller kubernetes', [1]],
    ['controller prometheus', []],
    ['cafe', [1]],
    ['"for"', [1]],
    ['nginx-ing', [1]],
    ['NEAR(ingress controller)', []],
    ['ingress OR prometheus', []],
    ['-ingress', [1]],
    ['readme:ingress', []],
    ['{name}: ingress', []],
    ["' OR 1=1 --", []],
    ['*', []],
    ['a"b"c', []],
  ]
  for (const [typed, expected] of cases) {
    const query = ftsQuery(typed)
    t.same(query === null ? [] : match.all(query), expected, JSON.stringify(typed))
  }
})

t.test('packFilter: blank is no filter; the text is lower-cased for names and quoted for the index', async (t) => {
  const none = { q: null, fts: null, layer: null, cloud: null, addonType: null, group: null, warnings: null }
  const cases: Array<[Parameters<typeof packFilter>[0], ReturnType<typeof packFilter>]> = [
    [{}, none],
    [{ q: '  ', layer: '', cloud: ' ', addonType: '', group: '' }, none],
    [{ q: ' Ingress ' }, { ...none, q: 'ingress', fts: '"Ingress"*' }],
    [{ q: '***' }, { ...none, q: '***' }],
    [{ layer: 'addon', cloud: 'aws' }, { ...none, layer: 'addon', cloud: 'aws' }],
    [{ addonType: ' ingress ', group: 'LTS' }, { ...none, addonType: 'ingress', group: 'LTS' }],
    [{ warnings: true }, { ...none, warnings: 1 }],
    [{ warnings: false }, none],
    [{ q: 'dns', addonType: 'ingress', warnings: true }, { ...none, q: 'dns', fts: '"dns"*', addonType: 'ingress', warnings: 1 }],
  ]
  for (const [request, expected] of cases) t.same(packFilter(request), expected, JSON.stringify(request))
})

t.test('searchDocument: names, addon type and subtype, description and annotation values; only strings', async (t) => {
  const cases: Array<[string, Record<string, unknown>, Partial<ReturnType<typeof searchDocument>>]> = [
    ['a plain pack', { name: 'p', version: '1.0.0' }, { addonType: '', description: '' }],
    ['addon type and subtype', { addonType: 'ingress', addonSubType: 'nginx' }, { addonType: 'ingress nginx' }],
    ['description and annotations', { description: 'Routes traffic', annotations: { source: 'community', owner: 'platform team' } }, { description: 'Routes traffic\ncommunity\nplatform team' }],
    ['odd types accepted with warnings', { addonType: 5, description: ['x'], annotations: { n: 1, ok: 'yes', o: { deep: 'no' } } }, { addonType: '', description: 'yes' }],
    ['annotations that are no object', { annotations: ['a', 'b'] }, { description: '' }],
    ['null annotations', { annotations: null }, { description: '' }],
  ]
  for (const [label, pack, expected] of cases) {
    const doc = searchDocument('name', 'Display', JSON.stringify({ name: 'p', version: '1.0.0', ...pack }), 'the readme')
    t.match(doc, { name: 'name', displayName: 'Display', readme: 'the readme', ...expected }, label)
  }
})

t.test('readmeText: the first README_SEARCH_BYTES as UTF-8', async (t) => {
  const long = Buffer.from('word '.repeat(README_SEARCH_BYTES))
  const cut = Buffer.concat([Buffer.alloc(README_SEARCH_BYTES - 1, 'a'), Buffer.from('é')])
  const cases: Array<[string, Buffer, (text: string) => boolean]> = [
    ['an empty one', Buffer.alloc(0), (text) => text === ''],
    ['a short one whole', Buffer.from('# Hello\nworld'), (text) => text === '# Hello\nworld'],
    ['a long one cut', long, (text) => text.length === README_SEARCH_BYTES],
    ['a character cut in two is replaced', cut, (text) => text.endsWith('a\uFFFD') && Buffer.byteLength(text) === README_SEARCH_BYTES + 2],
  ]
  for (const [label, bytes, ok] of cases) t.ok(ok(readmeText(bytes)), label)
})
