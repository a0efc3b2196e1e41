// Content digest: a fixed vector, independence from input order, byte-order sorting, refusals.

import t from 'tap'
import { createHash } from 'node:crypto'
import { RegistryError } from '../../src/errors.js'
import { contentDigest } from '../../src/packs/content-digest.js'

const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
const NAME = '82a3537ff0dbce7eec35d69edc3a189ee6f17d82f353a553f9aa96cb0be3ce89'

/** The digest of lines written out by hand, in the given order. */
function digestOfLines(lines: [string, string][]): string {
  return `sha256:${createHash('sha256')
    .update(lines.map(([path, sha]) => `${path}\0${sha}\n`).join(''))
    .digest('hex')}`
}

t.test('a fixed vector', async (t) => {
  // printf 'charts/nginx.tgz\0<NAME>\npack.json\0<NAME>\nvalues.yaml\0<EMPTY>\n' | sha256sum
  const files = [
    { path: 'values.yaml', sha256: EMPTY },
    { path: 'pack.json', sha256: NAME },
    { path: 'charts/nginx.tgz', sha256: NAME },
  ]
  t.equal(contentDigest(files), 'sha256:2d9e96f4f34371bd83b887826488121995adfa7c0f8745a7c17cb479acd7f825')
  t.equal(contentDigest([]), `sha256:${EMPTY}`, 'no files: the digest of nothing')
})

t.test('the order files are given in does not matter', async (t) => {
  const files = [
    { path: 'a', sha256: EMPTY },
    { path: 'b/c', sha256: NAME },
    { path: 'b.d', sha256: EMPTY },
    { path: 'README.md', sha256: NAME },
  ]
  const expected = contentDigest(files)
  const orders = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]]
  for (const order of orders) t.equal(contentDigest(order.map((i) => files[i] as (typeof files)[number])), expected, order.join(','))
  t.equal(contentDigest(new Set(files)), expected, 'any iterable')
  t.equal(contentDigest((function* () { yield* files })()), expected, 'a generator')
})

t.test('lines are sorted by UTF-8 bytes', async (t) => {
  const cases: { name: string; paths: string[]; sorted: string[] }[] = [
    { name: 'uppercase before lowercase', paths: ['a', 'B'], sorted: ['B', 'a'] },
    { name: '"." (0x2E) before "/" (0x2F)', paths: ['b/c', 'b.d'], sorted: ['b.d', 'b/c'] },
    { name: 'a prefix first', paths: ['ab', 'a'], sorted: ['a', 'ab'] },
    { name: 'ASCII before non-ASCII', paths: ['é', 'z'], sorted: ['z', 'é'] },
    // UTF-16 code units would put U+1F600 (D83D DE00) before U+E000
    { name: 'code point, not code unit, order', paths: ['\u{1F600}', '\uE000'], sorted: ['\uE000', '\u{1F600}'] },
  ]
  for (const c of cases) {
    const digest = contentDigest(c.paths.map((path) => ({ path, sha256: EMPTY })))
    t.equal(digest, digestOfLines(c.sorted.map((p) => [p, EMPTY])), c.name)
  }
})

t.test('any change to a path or a file changes the digest', async (t) => {
  const packJson = { path: 'pack.json', sha256: NAME }
  const values = { path: 'values.yaml', sha256: EMPTY }
  const base = [packJson, values]
  const digest = contentDigest(base)
  const variants = [
    [{ path: 'pack.json', sha256: EMPTY }, values],
    [packJson, { path: 'Values.yaml', sha256: EMPTY }],
    [packJson],
    [...base, { path: 'README.md', sha256: EMPTY }],
  ]
  for (const variant of variants) t.not(contentDigest(variant), digest)
})

t.test('refuses input that would make the digest ambiguous', async (t) => {
  const cases: { name: string; files: { path: string; sha256: string }[]; code: string; path: string }[] = [
    { name: 'newline in a path', files: [{ path: 'a\nb', sha256: EMPTY }], code: 'ARCHIVE_INVALID', path: 'a\nb' },
    { name: 'NUL in a path', files: [{ path: 'a\0b', sha256: EMPTY }], code: 'ARCHIVE_INVALID', path: 'a\0b' },
    { name: 'uppercase hex', files: [{ path: 'a', sha256: EMPTY.toUpperCase() }], code: 'DIGEST_INVALID', path: 'a' },
    { name: 'short hex', files: [{ path: 'a', sha256: EMPTY.slice(1) }], code: 'DIGEST_INVALID', path: 'a' },
    { name: 'prefixed hex', files: [{ path: 'a', sha256: `sha256:${EMPTY}` }], code: 'DIGEST_INVALID', path: 'a' },
    {
      name: 'a path twice',
      files: [
        { path: 'a', sha256: EMPTY },
        { path: 'b', sha256: EMPTY },
        { path: 'a', sha256: NAME },
      ],
      code: 'ARCHIVE_INVALID',
      path: 'a',
    },
    {
      name: 'lone surrogates that encode alike',
      files: [
        { path: '\uD800', sha256: EMPTY },
        { path: '\uDC00', sha256: EMPTY },
      ],
      code: 'ARCHIVE_INVALID',
      path: '\uDC00',
    },
  ]
  for (const c of cases) {
    let err: unknown
    try {
      contentDigest(c.files)
    } catch (e) {
      err = e
    }
    t.ok(err instanceof RegistryError, c.name)
    t.equal((err as RegistryError).code, c.code, c.name)
    t.same((err as RegistryError).detail, { path: c.path }, c.name)
    t.match((err as RegistryError).message, JSON.stringify(c.path))
  }
})
