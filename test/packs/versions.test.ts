// Which labels are versions, how they normalise, and semver precedence between them.

import t from 'tap'
import semver from 'semver'
import { compareVersions, parseVersion, type PackVersion } from '../../src/packs/versions.js'

function version(label: string): PackVersion {
  const v = parseVersion(label)
  if (v === null) throw new Error(`${label} should parse`)
  return v
}

t.test('parses versions the way packs write them', async (t) => {
  const cases: { label: string; normalized: string; prerelease?: string[]; build?: string[] }[] = [
    { label: '1.5', normalized: '1.5.0' },
    { label: '22.04', normalized: '22.4.0' },
    { label: 'v1.1.0', normalized: '1.1.0' },
    { label: 'V2', normalized: '2.0.0' },
    { label: '1', normalized: '1.0.0' },
    { label: '2.0.1-up.1', normalized: '2.0.1-up.1', prerelease: ['up', '1'] },
    { label: '0.30.0-5.5.2026', normalized: '0.30.0-5.5.2026', prerelease: ['5', '5', '2026'] },
    { label: '14.4.3-beta', normalized: '14.4.3-beta', prerelease: ['beta'] },
    { label: '1.28.0', normalized: '1.28.0' },
    { label: '007.008.009', normalized: '7.8.9' },
    { label: '1-alpha', normalized: '1.0.0-alpha', prerelease: ['alpha'] },
    { label: '1.2-x-y.0', normalized: '1.2.0-x-y.0', prerelease: ['x-y', '0'] },
    { label: '1.0.0-rc.01', normalized: '1.0.0-rc.1', prerelease: ['rc', '1'] },
    { label: '1.0.0-0a', normalized: '1.0.0-0a', prerelease: ['0a'] },
    { label: '1.0.0+build.5', normalized: '1.0.0+build.5', build: ['build', '5'] },
    { label: '1.0.0-alpha+001', normalized: '1.0.0-alpha+001', prerelease: ['alpha'], build: ['001'] },
    { label: `${Number.MAX_SAFE_INTEGER}.0.0`, normalized: `${Number.MAX_SAFE_INTEGER}.0.0` },
  ]
  for (const c of cases) {
    const v = version(c.label)
    t.equal(v.normalized, c.normalized, c.label)
    t.same(v.prerelease, c.prerelease ?? [], `${c.label} prerelease`)
    t.same(v.build, c.build ?? [], `${c.label} build`)
    t.ok(semver.valid(v.normalized), `${c.label} normalises to valid semver`)
  }
  t.same(version('v22.04.1'), { major: 22, minor: 4, patch: 1, prerelease: [], build: [], normalized: '22.4.1' })
})

t.test('other labels are not versions', async (t) => {
  const cases = [
    'stable',
    'latest',
    '1.x',
    '1.0.x',
    '1.2.x',
    '1..2',
    '1.2.3.4',
    '',
    'v',
    'vv1',
    '-1',
    '1.',
    '.1',
    '1.2.3-',
    '1.2.3-a..b',
    '1.2.3-.a',
    '1.2.3+',
    '1.2.3+a..b',
    '1.2.3-rc_1',
    '1.2.3-é',
    ' 1.2.3',
    '1.2.3 ',
    'lts__1.0.0',
    '1.0.0-rc+',
    `${Number.MAX_SAFE_INTEGER + 1}`,
    `1.${'9'.repeat(20)}`,
    `1.0.${'1'.repeat(400)}`,
  ]
  for (const label of cases) t.equal(parseVersion(label), null, JSON.stringify(label))
})

t.test('orders by semver precedence', async (t) => {
  // strictly increasing
  const ordered = [
    '0.9.9',
    '1.0.0-0',
    '1.0.0-1',
    '1.0.0-2',
    '1.0.0-10',
    '1.0.0-Alpha',
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-alpha.beta',
    '1.0.0-beta',
    '1.0.0-beta.2',
    '1.0.0-beta.11',
    '1.0.0-rc.1',
    '1.0.0',
    '1.0.1',
    '1.2',
    '1.10',
    '2',
    '22.04',
    '100.0.0',
  ]
  for (const [i, left] of ordered.entries()) {
    for (const [j, right] of ordered.entries()) {
      const expected = Math.sign(i - j)
      const a = version(left)
      const b = version(right)
      t.equal(compareVersions(a, b), expected, `${left} vs ${right}`)
      t.equal(semver.compare(a.normalized, b.normalized), expected, `semver agrees: ${ordered[i]} vs ${ordered[j]}`)
    }
  }
})

t.test('numeric prerelease identifiers compare numerically at any size', async (t) => {
  // node-semver compares identifiers beyond MAX_SAFE_INTEGER as text; the semver spec does not.
  const small = version('1.0.0-99999999999999999999')
  const big = version('1.0.0-100000000000000000000')
  t.equal(compareVersions(small, big), -1)
  t.equal(compareVersions(big, small), 1)
  t.equal(compareVersions(big, version('1.0.0-alpha')), -1, 'still below alphanumeric')
})

t.test('equal precedence', async (t) => {
  const cases: [string, string][] = [
    ['1.5', '1.5.0'],
    ['v1.0.0', '1.0.0'],
    ['22.04', '22.4.0'],
    ['1.0.0+a', '1.0.0+b'],
    ['1.0.0-rc.1+a', '1.0.0-rc.1'],
    ['1.0.0-rc.01', '1.0.0-rc.1'],
  ]
  for (const [a, b] of cases) {
    t.equal(compareVersions(version(a), version(b)), 0, `${a} = ${b}`)
    t.equal(compareVersions(version(b), version(a)), 0, `${b} = ${a}`)
  }
})
