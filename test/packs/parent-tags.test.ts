// Parent tags: which exist for a set of version tags, what each points at, and lookup by target.

import t from 'tap'
import { computeParentTags, parentTagsOf, type VersionTagInput } from '../../src/packs/parent-tags.js'
import { formatTag } from '../../src/packs/tags.js'

/** [group, label] in write order: seq is the position in the list. */
function inputs(...tags: [string | null, string][]): VersionTagInput[] {
  return tags.map(([group, label], seq) => ({ tag: formatTag(group, label), group, label, seq }))
}

const longGroup = 'g'.repeat(123)

const cases: { name: string; tags: VersionTagInput[]; parents: [string, string][] }[] = [
  { name: 'no tags', tags: [], parents: [] },
  {
    name: 'one version',
    tags: inputs([null, '1.0.0']),
    parents: [
      ['1.0.x', '1.0.0'],
      ['1.x', '1.0.0'],
    ],
  },
  {
    name: 'group and normalisation (Ubuntu LTS 22.04)',
    tags: inputs(['LTS', '22.04']),
    parents: [
      ['LTS__22.4.x', 'LTS__22.04'],
      ['LTS__22.x', 'LTS__22.04'],
    ],
  },
  {
    name: 'highest version per major and per minor',
    tags: inputs([null, '1.1.0'], [null, '2.0.0'], [null, '1.0.1'], [null, '1.0.0']),
    parents: [
      ['1.0.x', '1.0.1'],
      ['1.1.x', '1.1.0'],
      ['1.x', '1.1.0'],
      ['2.0.x', '2.0.0'],
      ['2.x', '2.0.0'],
    ],
  },
  {
    name: 'numeric, not textual, order',
    tags: inputs([null, '1.10.0'], [null, '1.9.0']),
    parents: [
      ['1.10.x', '1.10.0'],
      ['1.9.x', '1.9.0'],
      ['1.x', '1.10.0'],
    ],
  },
  {
    name: 'aliases are ignored',
    tags: inputs([null, 'stable'], [null, '1.0.0'], ['lts', 'latest']),
    parents: [
      ['1.0.x', '1.0.0'],
      ['1.x', '1.0.0'],
    ],
  },
  { name: 'only aliases', tags: inputs([null, 'stable'], ['lts', 'latest']), parents: [] },
  {
    name: 'a prerelease alone gets parents',
    tags: inputs([null, '2.0.0-rc.1']),
    parents: [
      ['2.0.x', '2.0.0-rc.1'],
      ['2.x', '2.0.0-rc.1'],
    ],
  },
  {
    name: 'a release beats its prerelease even when written earlier',
    tags: inputs([null, '2.0.0'], [null, '2.0.0-rc.1']),
    parents: [
      ['2.0.x', '2.0.0'],
      ['2.x', '2.0.0'],
    ],
  },
  {
    name: 'a later prerelease beats an earlier one',
    tags: inputs([null, '2.0.0-rc.2'], [null, '2.0.0-rc.1'], [null, '1.9.0']),
    parents: [
      ['1.9.x', '1.9.0'],
      ['1.x', '1.9.0'],
      ['2.0.x', '2.0.0-rc.2'],
      ['2.x', '2.0.0-rc.2'],
    ],
  },
  {
    name: 'a pre-release of a newer minor never takes a release line (2.x stays on 2.5.0)',
    tags: inputs(['LTS', '2.5.0'], ['LTS', '2.6.0-rc.1']),
    parents: [
      ['LTS__2.5.x', 'LTS__2.5.0'],
      ['LTS__2.6.x', 'LTS__2.6.0-rc.1'],
      ['LTS__2.x', 'LTS__2.5.0'],
    ],
  },
  {
    name: 'a pre-release of a newer major gets its own line only',
    tags: inputs([null, '1.4.2'], [null, '2.0.0-beta.3'], [null, '2.0.0-beta.10']),
    parents: [
      ['1.4.x', '1.4.2'],
      ['1.x', '1.4.2'],
      ['2.0.x', '2.0.0-beta.10'],
      ['2.x', '2.0.0-beta.10'],
    ],
  },
  {
    name: 'the first release of a pre-release line takes it over, older than the pre-releases or not',
    tags: inputs([null, '3.1.0-rc.1'], [null, '3.0.0'], [null, '3.1.0-rc.2']),
    parents: [
      ['3.0.x', '3.0.0'],
      ['3.1.x', '3.1.0-rc.2'],
      ['3.x', '3.0.0'],
    ],
  },
  {
    name: 'a pre-release of the same patch never replaces the release (2.5.1-rc.1 after 2.5.0)',
    tags: inputs([null, '2.5.0'], [null, '2.5.1-rc.1']),
    parents: [
      ['2.5.x', '2.5.0'],
      ['2.x', '2.5.0'],
    ],
  },
  {
    name: 'build metadata is a release, not a pre-release',
    tags: inputs([null, '1.0.0'], [null, '1.0.1+build.7']),
    parents: [
      ['1.0.x', '1.0.1+build.7'],
      ['1.x', '1.0.1+build.7'],
    ],
  },
  {
    name: 'tie 1.5 / 1.5.0: the most recently written wins',
    tags: inputs([null, '1.5'], [null, '1.5.0']),
    parents: [
      ['1.5.x', '1.5.0'],
      ['1.x', '1.5.0'],
    ],
  },
  {
    name: 'tie 1.5.0 / 1.5: the most recently written wins',
    tags: inputs([null, '1.5.0'], [null, '1.5']),
    parents: [
      ['1.5.x', '1.5'],
      ['1.x', '1.5'],
    ],
  },
  {
    name: 'tie v1.0.0 / 1.0.0',
    tags: inputs([null, '1.0.0'], [null, 'v1.0.0']),
    parents: [
      ['1.0.x', 'v1.0.0'],
      ['1.x', 'v1.0.0'],
    ],
  },
  {
    name: 'groups are separate, and case-sensitive',
    tags: inputs([null, '1.0.0'], ['LTS', '1.2.0'], ['lts', '1.1.0'], ['LTS', '1.1.5']),
    parents: [
      ['1.0.x', '1.0.0'],
      ['1.x', '1.0.0'],
      ['LTS__1.1.x', 'LTS__1.1.5'],
      ['LTS__1.2.x', 'LTS__1.2.0'],
      ['LTS__1.x', 'LTS__1.2.0'],
      ['lts__1.1.x', 'lts__1.1.0'],
      ['lts__1.x', 'lts__1.1.0'],
    ],
  },
  {
    name: 'sorted by tag, code-unit order',
    tags: inputs([null, '9.0.0'], [null, '10.0.0'], [null, '1.0.0']),
    parents: [
      ['1.0.x', '1.0.0'],
      ['1.x', '1.0.0'],
      ['10.0.x', '10.0.0'],
      ['10.x', '10.0.0'],
      ['9.0.x', '9.0.0'],
      ['9.x', '9.0.0'],
    ],
  },
  {
    name: 'a parent tag longer than 128 characters is not created',
    tags: inputs([longGroup, '1']),
    parents: [[`${longGroup}__1.x`, `${longGroup}__1`]],
  },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    const parents = computeParentTags(c.tags)
    t.same(
      parents.map((p) => [p.tag, p.target]),
      c.parents,
    )
    for (const p of parents) {
      t.equal(p.tag, formatTag(p.group, p.label), `${p.tag} is made of its group and label`)
      t.match(p.label, /^\d+(\.\d+)?\.x$/)
    }
    // The write order matters only through seq, never through the order of the input.
    t.same(computeParentTags([...c.tags].reverse()), parents, 'independent of input order')
  })
}

t.test('parent tag objects', async (t) => {
  t.same(computeParentTags(inputs(['LTS', '22.04'])), [
    { tag: 'LTS__22.4.x', group: 'LTS', label: '22.4.x', target: 'LTS__22.04' },
    { tag: 'LTS__22.x', group: 'LTS', label: '22.x', target: 'LTS__22.04' },
  ])
  t.same(computeParentTags(inputs([null, '1.0.0'])), [
    { tag: '1.0.x', group: null, label: '1.0.x', target: '1.0.0' },
    { tag: '1.x', group: null, label: '1.x', target: '1.0.0' },
  ])
})

t.test('parentTagsOf', async (t) => {
  const parents = computeParentTags(inputs([null, '1.0.0'], [null, '1.0.1'], [null, '1.1.0'], [null, '2.0.0']))
  const cases: [string, string[]][] = [
    ['1.1.0', ['1.1.x', '1.x']],
    ['1.0.1', ['1.0.x']],
    ['1.0.0', []],
    ['2.0.0', ['2.0.x', '2.x']],
    ['stable', []],
  ]
  for (const [target, tags] of cases) t.same(parentTagsOf(target, parents), tags, target)
  t.same(parentTagsOf('2.0.0', [...parents].reverse()), ['2.0.x', '2.x'], 'sorted whatever the input order')
})
