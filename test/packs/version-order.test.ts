// How the pack browser orders versions: semantic-version precedence newest first, versions that
// are not semantic after them, groups apart with the ungrouped ones first.

import t from 'tap'
import { groupVersions, newerFirst, newestVersion, type OrderableVersion } from '../../src/packs/version-order.js'

const v = (version: string, written = 0, group: string | null = null): OrderableVersion => ({ version, group, written })
const labels = (list: OrderableVersion[]) => list.map((x) => x.version)

t.test('newest first by semantic-version precedence', async (t) => {
  const cases: Array<{ name: string; input: OrderableVersion[]; expected: string[] }> = [
    { name: 'numeric, not text, order', input: [v('1.9.0'), v('1.10.0'), v('1.2.0')], expected: ['1.10.0', '1.9.0', '1.2.0'] },
    { name: 'short and v-prefixed versions normalise', input: [v('22.04'), v('v22.4.1'), v('1.5')], expected: ['v22.4.1', '22.04', '1.5'] },
    { name: 'a release beats its prereleases', input: [v('2.0.0-rc.1'), v('2.0.0'), v('2.0.0-rc.2')], expected: ['2.0.0', '2.0.0-rc.2', '2.0.0-rc.1'] },
    { name: 'build metadata does not count; the later write wins a tie', input: [v('1.0.0+a', 1), v('1.0.0+b', 2)], expected: ['1.0.0+b', '1.0.0+a'] },
    { name: 'not semantic: after every semantic one, newest write first', input: [v('stable', 5), v('0.1.0', 1), v('nightly', 9)], expected: ['0.1.0', 'nightly', 'stable'] },
    { name: 'empty', input: [], expected: [] },
  ]
  for (const c of cases) t.same(labels([...c.input].sort(newerFirst)), c.expected, c.name)
})

t.test('groups: ungrouped first, then by name, each newest first', async (t) => {
  const groups = groupVersions([v('20.4.0', 1, 'LTS'), v('1.0.0', 2), v('22.4.0', 3, 'LTS'), v('2.0.0', 4, 'beta'), v('1.1.0', 5)])
  t.same(
    groups.map((g) => [g.group, labels(g.versions)]),
    [
      [null, ['1.1.0', '1.0.0']],
      ['beta', ['2.0.0']],
      ['LTS', ['22.4.0', '20.4.0']],
    ],
  )
  t.same(groupVersions([]), [])
  t.same(
    groupVersions([v('1.0.0', 1, 'b'), v('1.0.0', 2, 'B'), v('1.0.0', 3, 'a')]).map((g) => g.group),
    ['a', 'B', 'b'],
    'groups compare without case first; the exact group names stay apart',
  )
})

t.test('the newest release, whatever its group; a pre-release only when there is no release', async (t) => {
  const cases: Array<{ input: OrderableVersion[]; expected: string | undefined }> = [
    { input: [v('1.0.0'), v('24.4.0', 0, 'LTS'), v('2.0.0')], expected: '24.4.0' },
    { input: [v('2.5.0', 1), v('2.6.0-rc.1', 2)], expected: '2.5.0' },
    { input: [v('2.6.0-rc.1', 1), v('2.5.0', 2), v('3.0.0-beta.1', 3, 'LTS')], expected: '2.5.0' },
    { input: [v('2.6.0-rc.1', 1), v('2.6.0-rc.2', 2)], expected: '2.6.0-rc.2' },
    { input: [v('2.6.0-rc.1', 1), v('latest', 2)], expected: '2.6.0-rc.1' },
    { input: [v('1.0.0+build.3', 1), v('1.0.0-rc.1', 2)], expected: '1.0.0+build.3' },
    { input: [v('latest', 2), v('edge', 3)], expected: 'edge' },
    { input: [v('latest', 9), v('0.0.1', 1)], expected: '0.0.1' },
    { input: [], expected: undefined },
  ]
  for (const c of cases) t.equal(newestVersion(c.input)?.version, c.expected, labels(c.input).join(', ') || 'none')
})
