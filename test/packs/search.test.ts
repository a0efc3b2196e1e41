// The pack browser's search rules, table by table: what typed text becomes as an FTS5 query and
// as a PostgreSQL tsquery (hostile syntax quoted, never a query operator), which filters a
// request sets, what of a pack.json is searched, and how much of a README. The queries are also
// run against a real FTS5 table, and against a real PostgreSQL table shaped as pack_search is
// there, to show none is a syntax error and both engines find the same.

import Database from 'better-sqlite3'
import pg from 'pg'
import t from 'tap'
import { searchWords } from '../../src/meta/packs.js'
import { ftsQuery, packFilter, README_SEARCH_BYTES, readmeText, searchDocument, tsQuery } from '../../src/packs/search.js'
import { freshDatabase } from '../postgres.js'

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

/** What each typed text finds in the document of pack 1, on both engines. */
const DOCUMENT = { name: 'nginx-ingress', readme: 'An Ingress controller "for" Kubernetes, at the café' }
const MATCHES: Array<[string, number[]]> = [
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

t.test('ftsQuery: no typed text is an FTS5 syntax error, and words are found as prefixes', async (t) => {
  const db = new Database(':memory:')
  t.teardown(() => db.close())
  db.exec("CREATE VIRTUAL TABLE s USING fts5(name, readme, tokenize = 'unicode61 remove_diacritics 2')")
  db.prepare('INSERT INTO s (rowid, name, readme) VALUES (?, ?, ?)').run(1, DOCUMENT.name, DOCUMENT.readme)
  const match = db.prepare('SELECT rowid FROM s WHERE s MATCH ?').pluck()
  for (const [typed, expected] of MATCHES) {
    const query = ftsQuery(typed)
    t.same(query === null ? [] : match.all(query), expected, JSON.stringify(typed))
  }
})

t.test('tsQuery: every word a prefix (a word of several parts a phrase), all required; nothing searchable is null', async (t) => {
  const cases: Array<[string, string | null]> = [
    ['ingress', "('ingress':*)"],
    ['  Ingress   controller ', "('Ingress':*) & ('controller':*)"],
    ['"quoted"', "('quoted':*)"],
    ["it's", "('it' <-> 's':*)"],
    ['nginx-ing', "('nginx' <-> 'ing':*)"],
    ['a & !b | c:*', "('a':*) & ('b':*) & ('c':*)"],
    ['café', "('cafe':*)"],
    ['日本', "('日本':*)"],
    ['* - ( ) " :', null],
    ['', null],
    ['x '.repeat(40), Array(16).fill("('x':*)").join(' & ')],
  ]
  for (const [typed, expected] of cases) t.equal(tsQuery(typed), expected, JSON.stringify(typed))
})

t.test('tsQuery: no typed text is a tsquery syntax error, and PostgreSQL finds what FTS5 finds', async (t) => {
  const client = new pg.Client({ connectionString: await freshDatabase(t) })
  await client.connect()
  t.teardown(() => client.end())
  // pack_search as the PostgreSQL schema has it, its text stored as PackMeta stores it there.
  await client.query(`CREATE TABLE s (repository_id BIGINT PRIMARY KEY, name TEXT, readme TEXT,
    document TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(readme, ''))) STORED)`)
  await client.query('INSERT INTO s (repository_id, name, readme) VALUES ($1, $2, $3)', [1, searchWords(DOCUMENT.name), searchWords(DOCUMENT.readme)])
  for (const [typed, expected] of MATCHES) {
    const query = tsQuery(typed)
    const found = query === null ? [] : (await client.query("SELECT repository_id FROM s WHERE document @@ to_tsquery('simple', $1)", [query])).rows.map((r) => Number(r.repository_id))
    t.same(found, expected, JSON.stringify(typed))
  }
})

t.test('packFilter: blank is no filter; the text is lower-cased for names and quoted for the index', async (t) => {
  const none = { q: null, fts: null, layer: null, cloud: null, addonType: null, group: null, warnings: null }
  const cases: Array<[Parameters<typeof packFilter>[0], ReturnType<typeof packFilter>]> = [
    [{}, none],
    [{ q: '  ', layer: '', cloud: ' ', addonType: '', group: '' }, none],
    [{ q: ' Ingress ' }, { ...none, q: 'ingress', fts: { sqlite: '"Ingress"*', postgres: "('Ingress':*)" } }],
    [{ q: '***' }, { ...none, q: '***' }],
    [{ layer: 'addon', cloud: 'aws' }, { ...none, layer: 'addon', cloud: 'aws' }],
    [{ addonType: ' ingress ', group: 'LTS' }, { ...none, addonType: 'ingress', group: 'LTS' }],
    [{ warnings: true }, { ...none, warnings: 1 }],
    [{ q: 'a\u0000B', group: '\u0000' }, { ...none, q: 'ab', fts: { sqlite: '"aB"*', postgres: "('aB':*)" } }],
    [{ warnings: false }, none],
    [{ q: 'dns', addonType: 'ingress', warnings: true }, { ...none, q: 'dns', fts: { sqlite: '"dns"*', postgres: "('dns':*)" }, addonType: 'ingress', warnings: 1 }],
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

t.test('readmeText: the first README_SEARCH_BYTES as UTF-8, NUL a space', async (t) => {
  const long = Buffer.from('word '.repeat(README_SEARCH_BYTES))
  const cut = Buffer.concat([Buffer.alloc(README_SEARCH_BYTES - 1, 'a'), Buffer.from('é')])
  const cases: Array<[string, Buffer, (text: string) => boolean]> = [
    ['an empty one', Buffer.alloc(0), (text) => text === ''],
    ['a short one whole', Buffer.from('# Hello\nworld'), (text) => text === '# Hello\nworld'],
    ['a long one cut', long, (text) => text.length === README_SEARCH_BYTES],
    ['a character cut in two is replaced', cut, (text) => text.endsWith('a\uFFFD') && Buffer.byteLength(text) === README_SEARCH_BYTES + 2],
    ['a NUL is a space', Buffer.from('hello\u0000world'), (text) => text === 'hello world'],
  ]
  for (const [label, bytes, ok] of cases) t.ok(ok(readmeText(bytes)), label)
})
