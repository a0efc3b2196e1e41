// What `pack push` says about parent tags: the ones on the pushed version, where a moved one
// came from, and why a pre-release did not take its major's parent tag.

import t from 'tap'
import { parentTagLines } from '../../src/cli/commands/pack-push.js'

t.test('parent tag lines of a push', async (t) => {
  const cases: Array<{ name: string; result: Parameters<typeof parentTagLines>[0]; lines: string[] }> = [
    { name: 'first version', result: { version: '1.0.0', parentTags: ['1.0.x', '1.x'], parentTagsMoved: [{ tag: '1.0.x', from: null, to: '1.0.0' }, { tag: '1.x', from: null, to: '1.0.0' }] }, lines: ['Parent tags: 1.0.x, 1.x'] },
    { name: 'a newer minor', result: { version: '1.1.0', parentTags: ['1.1.x', '1.x'], parentTagsMoved: [{ tag: '1.x', from: '1.0.0', to: '1.1.0' }] }, lines: ['Parent tags: 1.1.x, 1.x (was 1.0.0)'] },
    { name: 'an older patch moves nothing', result: { version: '1.0.1', parentTags: ['1.0.x'], parentTagsMoved: [{ tag: '1.0.x', from: '1.0.0', to: '1.0.1' }] }, lines: ['Parent tags: 1.0.x (was 1.0.0)'] },
    {
      name: 'a grouped pre-release after a release',
      result: { version: '2.6.0-rc.1', group: 'LTS', parentTags: ['LTS__2.6.x'], parentTagsMoved: [{ tag: 'LTS__2.6.x', from: null, to: 'LTS__2.6.0-rc.1' }] },
      lines: ['Parent tags: LTS__2.6.x', 'LTS__2.x did not move: parent tags follow the newest release of their line, and a pre-release only while the line has no release'],
    },
    { name: 'a pre-release of a new major', result: { version: '3.0.0-rc.1', parentTags: ['3.0.x', '3.x'], parentTagsMoved: [] }, lines: ['Parent tags: 3.0.x, 3.x'] },
    { name: 'a version that is not semantic', result: { version: 'latest', parentTags: [] }, lines: [] },
    { name: 'an older registry that does not say what moved', result: { version: '1.1.0', parentTags: ['1.1.x', '1.x'] }, lines: ['Parent tags: 1.1.x, 1.x'] },
  ]
  for (const c of cases) t.same(parentTagLines(c.result), c.lines, c.name)
})
