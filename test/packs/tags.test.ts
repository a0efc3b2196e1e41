// Tag grammar, group normalisation, the tag a push gets, and protection of parent tags.

import t from 'tap'
import { RegistryError } from '../../src/errors.js'
import {
  formatTag,
  isParentLabel,
  normalizeGroup,
  parseTag,
  validateUserTag,
  versionTagFor,
} from '../../src/packs/tags.js'

function caught(fn: () => unknown): RegistryError {
  try {
    fn()
  } catch (err) {
    if (err instanceof RegistryError) return err
    throw err
  }
  throw new Error('expected a RegistryError')
}

t.test('parseTag accepts', async (t) => {
  const cases: { tag: string; group: string | null; label: string }[] = [
    { tag: '14.4.3', group: null, label: '14.4.3' },
    { tag: 'lts__14.4.3', group: 'lts', label: '14.4.3' },
    { tag: 'LTS__22.04', group: 'LTS', label: '22.04' },
    { tag: 'stable', group: null, label: 'stable' },
    { tag: 'v1.0.0', group: null, label: 'v1.0.0' },
    { tag: '1.0.0-rc.1', group: null, label: '1.0.0-rc.1' },
    { tag: 'a_b__c_d', group: 'a_b', label: 'c_d' },
    { tag: 'g-1.x__0', group: 'g-1.x', label: '0' },
    { tag: 'A', group: null, label: 'A' },
    // parent labels are valid tags; only users may not write them
    { tag: 'LTS__22.4.x', group: 'LTS', label: '22.4.x' },
    { tag: 'a'.repeat(128), group: null, label: 'a'.repeat(128) },
    { tag: `${'g'.repeat(100)}__${'l'.repeat(26)}`, group: 'g'.repeat(100), label: 'l'.repeat(26) },
  ]
  for (const c of cases) t.same(parseTag(c.tag), c, c.tag)
})

t.test('parseTag refuses', async (t) => {
  const cases: { tag: string; why: RegExp }[] = [
    { tag: '', why: /it is empty/ },
    { tag: 'a'.repeat(129), why: /it is 129 characters long; a tag is at most 128/ },
    { tag: '__1.0.0', why: /its group \(before "__"\) is empty/ },
    { tag: 'lts__', why: /its label is empty/ },
    { tag: 'a__b__c', why: /contains "__" more than once/ },
    { tag: 'a___b', why: /its label must start with a letter or a digit/ },
    { tag: '.x', why: /its label must start with a letter or a digit/ },
    { tag: '-1', why: /its label must start with a letter or a digit/ },
    { tag: '_a__b', why: /its group \(before "__"\) must start with a letter or a digit/ },
    { tag: '1.0.0+build', why: /its label contains "\+"; only letters, digits, "\.", "_" and "-" are allowed/ },
    { tag: 'a b', why: /its label contains " "/ },
    { tag: 'lts__a/b', why: /its label contains "\/"/ },
    { tag: 'l t__s', why: /its group \(before "__"\) contains " "/ },
    { tag: 'tag:1', why: /contains ":"/ },
    { tag: 'v😀', why: /contains "😀"/ },
  ]
  for (const c of cases) {
    const err = caught(() => parseTag(c.tag))
    t.equal(err.code, 'TAG_INVALID', c.tag)
    t.equal(err.status, 400)
    t.same(err.detail, { tag: c.tag })
    t.match(err.message, `tag ${JSON.stringify(c.tag)} is invalid: `)
    t.match(err.message, c.why)
  }
})

t.test('formatTag', async (t) => {
  const cases: [string | null, string, string][] = [
    [null, '1.0.0', '1.0.0'],
    ['LTS', '22.04', 'LTS__22.04'],
    ['lts', '14.4.x', 'lts__14.4.x'],
    ['', 'stable', 'stable'],
  ]
  for (const [group, label, tag] of cases) t.equal(formatTag(group, label), tag)
})

t.test('isParentLabel', async (t) => {
  const cases: [string, boolean][] = [
    ['1.x', true],
    ['1.0.x', true],
    ['22.4.x', true],
    ['stable.x', true],
    ['x', false],
    ['box', false],
    ['1.X', false],
    ['1.x1', false],
    ['1.0.0', false],
    ['stable', false],
  ]
  for (const [label, parent] of cases) t.equal(isParentLabel(label), parent, label)
})

t.test('validateUserTag', async (t) => {
  t.same(validateUserTag('stable'), { tag: 'stable', group: null, label: 'stable' })
  t.same(validateUserTag('lts__14.4.3-beta'), { tag: 'lts__14.4.3-beta', group: 'lts', label: '14.4.3-beta' })
  const protectedTags = ['1.x', '1.0.x', 'LTS__22.4.x', 'lts__14.x']
  for (const tag of protectedTags) {
    const err = caught(() => validateUserTag(tag))
    t.equal(err.code, 'TAG_PROTECTED', tag)
    t.equal(err.status, 403)
    t.same(err.detail, { tag })
    t.match(err.message, JSON.stringify(tag))
    t.match(err.message, /parent tags like 1\.x and 1\.0\.x are managed by the registry/)
  }
  // grammar comes first: an invalid tag is invalid, whatever it ends with
  t.throws(() => validateUserTag('a b.x'), { code: 'TAG_INVALID' })
})

t.test('normalizeGroup', async (t) => {
  const none: unknown[] = [undefined, null, '', ' ', '\t\n', '\u00a0']
  for (const group of none) t.equal(normalizeGroup(group), null, JSON.stringify(group))
  const kept = ['LTS', 'lts', 'a.b-c_d', 'v1', 'g'.repeat(125)]
  for (const group of kept) t.equal(normalizeGroup(group), group)

  const refused: { group: unknown; why: RegExp }[] = [
    { group: 5, why: /^pack\.json: group must be a string, got a number$/ },
    { group: true, why: /must be a string, got a boolean$/ },
    { group: [], why: /must be a string, got an array$/ },
    { group: {}, why: /must be a string, got an object$/ },
    { group: ' LTS', why: /^pack\.json: group " LTS" cannot be used in a tag: it must start with a letter or a digit$/ },
    { group: 'LTS ', why: /group "LTS " cannot be used in a tag: it contains " "/ },
    { group: '-a', why: /must start with a letter or a digit/ },
    { group: 'a/b', why: /contains "\/"/ },
    { group: 'a__b', why: /^pack\.json: group "a__b" must not contain "__"/ },
  ]
  for (const c of refused) {
    const err = caught(() => normalizeGroup(c.group))
    t.equal(err.code, 'PACK_INVALID', JSON.stringify(c.group))
    t.same(err.detail, { file: 'pack.json', field: 'group' })
    t.match(err.message, c.why)
  }
})

t.test('versionTagFor', async (t) => {
  const cases: [string | null, string, string][] = [
    [null, '1.0.0', '1.0.0'],
    ['LTS', '22.04', 'LTS__22.04'],
    ['lts', '14.4.3', 'lts__14.4.3'],
    ['', '1.5', '1.5'],
    [' ', 'v1.1.0', 'v1.1.0'],
    [null, '2.0.1-up.1', '2.0.1-up.1'],
    [null, '0.30.0-5.5.2026', '0.30.0-5.5.2026'],
    [null, 'stable', 'stable'],
    ['g'.repeat(121), '1.0.0', `${'g'.repeat(121)}__1.0.0`],
  ]
  for (const [group, version, tag] of cases) t.equal(versionTagFor(group, version), tag, `${group}/${version}`)

  const refused: { group: string | null; version: string; field: string; why: RegExp }[] = [
    {
      group: null,
      version: '1.0.0+build',
      field: 'version',
      why: /^pack\.json: version "1\.0\.0\+build" cannot be used as a tag: it contains "\+"/,
    },
    { group: 'LTS', version: '1.0.0+build.5', field: 'version', why: /cannot be used as a tag: it contains "\+"/ },
    { group: null, version: 'a__b', field: 'version', why: /cannot be used as a tag: it contains "__"/ },
    { group: null, version: '1.x', field: 'version', why: /ends in "\.x", which is reserved for parent tags/ },
    { group: 'lts', version: '1.0.x', field: 'version', why: /reserved for parent tags/ },
    { group: null, version: '', field: 'version', why: /"" cannot be used as a tag: it is empty/ },
    { group: null, version: '-1', field: 'version', why: /must start with a letter or a digit/ },
    { group: null, version: '1.0 ', field: 'version', why: /contains " "/ },
    { group: 'a__b', version: '1.0.0', field: 'group', why: /must not contain "__"/ },
    { group: 'LTS!', version: '1.0.0', field: 'group', why: /contains "!"/ },
    {
      group: 'g'.repeat(121),
      version: '1.0.0-rc',
      field: 'version',
      why: /makes the tag "g+__1\.0\.0-rc", which is 131 characters long; a tag is at most 128/,
    },
  ]
  for (const c of refused) {
    const err = caught(() => versionTagFor(c.group, c.version))
    t.equal(err.code, 'PACK_INVALID', `${c.group}/${c.version}`)
    t.same(err.detail, { file: 'pack.json', field: c.field })
    t.match(err.message, c.why)
  }
})
