// Which upstream tags a mirror copies: table-driven.

import t from 'tap'
import type { SyncContentRule } from '../../src/config/sync.js'
import { globMatches, packMayMatch, selectTag } from '../../src/packs/sync-rules.js'

const rule = (r: Partial<SyncContentRule>): SyncContentRule => ({ packs: [], versions: null, tags: null, excludeTags: null, ...r })

t.test('selectTag', async (t) => {
  const cases: Array<[SyncContentRule[], string, string, ReturnType<typeof selectTag>]> = [
    [[], 'kubernetes', '1.28.0', { selected: true }],
    [[], 'kubernetes', 'edge__1.28.0', { selected: true }],
    [[], 'kubernetes', '1.x', { selected: false, why: 'parent' }],
    [[], 'kubernetes', 'edge__1.28.x', { selected: false, why: 'parent' }],
    [[], 'kubernetes', 'stable', { selected: false, why: 'alias' }],
    [[], 'kubernetes', '-bad', { selected: false, why: 'invalid' }],
    [[rule({ packs: ['cni-*'] })], 'cni-calico', '3.26.0', { selected: true }],
    [[rule({ packs: ['cni-*'] })], 'kubernetes', '1.28.0', { selected: false, why: 'rules' }],
    [[rule({ packs: ['k?s'] })], 'k8s', '1.0.0', { selected: true }],
    [[rule({ versions: '>=1.28.0' })], 'kubernetes', '1.27.9', { selected: false, why: 'rules' }],
    [[rule({ versions: '>=1.28.0' })], 'kubernetes', 'v1.28', { selected: true }],
    [[rule({ versions: '>=1.28.0' })], 'kubernetes', '1.29.0-rc.1', { selected: true }],
    [[rule({ tags: /^edge__/ })], 'kubernetes', 'edge__1.0.0', { selected: true }],
    [[rule({ tags: /^edge__/ })], 'kubernetes', '1.0.0', { selected: false, why: 'rules' }],
    [[rule({ excludeTags: /-rc/ })], 'kubernetes', '1.0.0-rc.1', { selected: false, why: 'rules' }],
    [[rule({ packs: ['a'] }), rule({ packs: ['b'], versions: '^2' })], 'b', '2.1.0', { selected: true }],
    [[rule({ packs: ['a'] }), rule({ packs: ['b'], versions: '^2' })], 'b', '1.0.0', { selected: false, why: 'rules' }],
  ]
  for (const [rules, name, tag, want] of cases) t.same(selectTag(rules, name, tag), want, `${name}:${tag}`)
})

t.test('packMayMatch and globMatches', async (t) => {
  t.ok(packMayMatch([], 'x'))
  t.ok(packMayMatch([rule({ versions: '1' })], 'x'), 'a rule without packs covers every pack')
  t.notOk(packMayMatch([rule({ packs: ['cni-*'] })], 'kubernetes'))
  t.ok(globMatches('cni-*', 'cni-'))
  t.notOk(globMatches('cni.x', 'cnixx'), 'a dot is a dot')
})
