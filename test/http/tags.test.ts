// Tags through the /v1 pack API: parent tags never move from a release to a pre-release (and a
// registry written before that rule is mended at start-up, each move in the audit trail); parent
// tags maintained line by line stay exactly what a computation from scratch says after any
// sequence of pushes, tags and deletes; the detail routes page their tags.

import t from 'tap'
import { buildApp } from '../../src/app.js'
import { computeParentTags } from '../../src/packs/parent-tags.js'
import { join } from 'node:path'
import { ADMIN, tempDir, testConfig } from '../helpers.js'
import { archive, get, packFiles, push, pushPack } from '../pack-fixtures.js'
import { testApp } from '../helpers.js'

const auth = { authorization: ADMIN }

interface ListedTag {
  tag: string
  kind: string
  parentTags: string[]
  version: string
}

t.test('a pre-release never takes a parent tag from a release; the push says which parent tags moved', async (t) => {
  const app = await testApp(t)
  const release = await pushPack(app, { name: 'lts', version: '2.5.0', group: 'LTS' })
  t.same(release.parentTags, ['LTS__2.5.x', 'LTS__2.x'])
  const rc = (await pushPack(app, { name: 'lts', version: '2.6.0-rc.1', group: 'LTS' })) as unknown as Record<string, unknown>
  t.same(rc.parentTags, ['LTS__2.6.x'], 'its own line only: it has no release yet')
  t.same(rc.parentTagsMoved, [{ tag: 'LTS__2.6.x', from: null, to: 'LTS__2.6.0-rc.1' }])
  t.equal((await get(app, '/v1/_packs/lts/LTS__2.x')).json().version, '2.5.0', 'a profile pinned to LTS__2.x keeps the release')
  t.equal((await get(app, '/v2/spectro-packs/archive/lts/manifests/LTS__2.x')).headers['docker-content-digest'], release.manifestDigest)

  const final = (await pushPack(app, { name: 'lts', version: '2.6.0', group: 'LTS' })) as unknown as Record<string, unknown>
  t.same(final.parentTags, ['LTS__2.6.x', 'LTS__2.x'])
  t.same(final.parentTagsMoved, [
    { tag: 'LTS__2.6.x', from: 'LTS__2.6.0-rc.1', to: 'LTS__2.6.0' },
    { tag: 'LTS__2.x', from: 'LTS__2.5.0', to: 'LTS__2.6.0' },
  ])
  const later = (await pushPack(app, { name: 'lts', version: '2.7.0-beta.1', group: 'LTS' })) as unknown as Record<string, unknown>
  t.same(later.parentTags, ['LTS__2.7.x'])
  t.equal((await get(app, '/v1/_packs/lts/LTS__2.x')).json().version, '2.6.0')
})

t.test('a registry written before the pre-release rule gets its parent tags mended at start-up, each move recorded', async (t) => {
  const config = testConfig(t, { storage: { filesystem: { rootdirectory: join(tempDir(t), 'data') } } })
  const first = await buildApp(config)
  await pushPack(first, { name: 'old', version: '2.5.0' })
  const rc = await pushPack(first, { name: 'old', version: '2.6.0-rc.1' })
  // What migration 0009 leaves of a registry the rule did not hold in: 2.x on the rc, and no
  // lines, targets, views or headers yet.
  const db = first.registry.db
  const rcManifest = ((await db.prepare('SELECT id FROM manifests WHERE digest = ?').get(rc.manifestDigest)) as { id: number }).id
  await db.prepare("UPDATE tags SET manifest_id = ? WHERE name = '2.x'").run(rcManifest)
  await db.prepare('UPDATE tags SET line = NULL, target = NULL, view = NULL').run()
  await db.prepare('DELETE FROM pack_headers').run()
  await db.prepare("INSERT INTO pending_tasks (name) VALUES ('tag-lines')").run()
  await first.close()

  const app = await buildApp(config)
  t.teardown(() => app.close())
  t.equal((await get(app, '/v1/_packs/old/2.x')).json().version, '2.5.0', '2.x is back on the release')
  const listed = (await get(app, '/v1/_packs?name=old')).json().packs[0]
  t.same(
    listed.tags.map((x: ListedTag) => [x.tag, x.parentTags]),
    [
      ['2.5.0', ['2.5.x', '2.x']],
      ['2.6.0-rc.1', ['2.6.x']],
    ],
    'the listing is rebuilt',
  )
  const events = (await get(app, '/v1/_events?pack=old')).json().events as Array<{ action: string; user: string; tag: string; message: string }>
  t.match(events.at(-1), { action: 'update', user: 'packyard', tag: '2.x', message: /pre-release/ })
  t.equal(events.filter((e) => e.user === 'packyard').length, 1, 'only the tag that moved is recorded')
  t.same(await app.registry.db.prepare('SELECT COUNT(*) AS n FROM pending_tasks').get(), { n: 0 }, 'done once')
})

/** What the rules say the parent tags of these listed tags are, from scratch. */
function expectedParents(tags: ListedTag[]): Map<string, string[]> {
  const versionTags = tags.filter((x) => x.kind === 'version')
  const seqOf = new Map(versionTags.map((x, i) => [x.tag, i]))
  const parents = computeParentTags(
    versionTags.map((x) => {
      const at = x.tag.indexOf('__')
      return { tag: x.tag, group: at === -1 ? null : x.tag.slice(0, at), label: at === -1 ? x.tag : x.tag.slice(at + 2), seq: seqOf.get(x.tag) ?? 0 }
    }),
  )
  const out = new Map<string, string[]>()
  for (const p of parents) out.set(p.target, [...(out.get(p.target) ?? []), p.tag].sort())
  return out
}

t.test('parent tags kept line by line equal a computation from scratch after any sequence of changes', async (t) => {
  const app = await testApp(t)
  let seed = 7
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed % n
  }
  const versions = ['1.0.0', '1.0.1', '1.1.0', '1.2.0-rc.1', '1.2.0', '2.0.0-beta.1', '2.0.0', '2.1.0-rc.2', '3.0.0-rc.1', 'v1.0.2', '1.5']
  const groups = [null, 'LTS']
  let mostTags = 0
  for (let step = 0; step < 120; step++) {
    const version = versions[random(versions.length)] as string
    const group = groups[random(groups.length)] ?? null
    const tag = group ? `${group}__${version}` : version
    const op = random(12)
    if (op < 7) {
      await push(app, await archive(packFiles({ name: 'lines', version, ...(group ? { group } : {}), description: `step ${step}` })), { force: 'true', message: `step ${step}` })
    } else if (op < 9) {
      await app.inject({ method: 'PUT', url: `/v1/_packs/lines/_tags/alias${random(4)}`, payload: { ref: tag }, headers: auth })
    } else if (op < 10) {
      await app.inject({ method: 'DELETE', url: `/v1/_packs/lines/_tags/alias${random(4)}`, headers: auth })
    } else {
      await app.inject({ method: 'DELETE', url: `/v1/_packs/lines/${tag}`, headers: auth })
    }
    const listing = (await get(app, '/v1/_packs?name=lines')).json().packs[0] as { tags: ListedTag[] } | undefined
    if (!listing) continue
    mostTags = Math.max(mostTags, listing.tags.length)
    const expected = expectedParents(listing.tags)
    for (const x of listing.tags) t.same(x.parentTags, expected.get(x.tag) ?? [], `step ${step}: the listing's ${x.tag}`)
    const detail = (await get(app, '/v1/_packs/lines')).json() as { tags: ListedTag[] }
    const parentTags = detail.tags.filter((x) => x.kind === 'parent').map((x) => x.tag)
    t.same(parentTags.sort(), [...expected.values()].flat().sort(), `step ${step}: the stored parent tags`)
    for (const x of detail.tags.filter((d) => d.kind !== 'parent')) t.same(x.parentTags, expected.get(x.tag) ?? [], `step ${step}: the detail's ${x.tag}`)
  }
  t.ok(mostTags >= 12, `the walk reached ${mostTags} tags at once`)
})

t.test('the detail routes page their tags: n and last, a Link to the next page, the count', async (t) => {
  const app = await testApp(t, { limits: { pagesize: 10 } })
  await pushPack(app, { name: 'many', version: '1.0.0' })
  for (let i = 0; i < 24; i++) {
    const res = await app.inject({ method: 'PUT', url: `/v1/_packs/many/_tags/alias-${String(i).padStart(2, '0')}`, payload: { ref: '1.0.0' }, headers: auth })
    t.equal(res.statusCode, 201)
  }
  for (const url of ['/v1/_packs/many', '/v1/_packs/many/1.0.0', '/v1/_packs/many/_tags']) {
    const seen: string[] = []
    let next: string | null = url
    let pages = 0
    while (next !== null) {
      const res = await get(app, next)
      t.equal(res.statusCode, 200, next)
      const body = res.json() as { tags: ListedTag[]; tagCount: number }
      t.ok(body.tags.length <= 10, 'at most limits.pagesize tags')
      t.equal(body.tagCount, 27, 'the count covers every page: the version tag, 24 aliases, 1.0.x and 1.x')
      seen.push(...body.tags.map((x) => x.tag))
      const link = res.headers.link as string | undefined
      next = link ? (/<([^>]+)>/.exec(link)?.[1] ?? null) : null
      pages++
    }
    t.equal(pages, 3, url)
    t.equal(new Set(seen).size, 27, `${url}: every tag once`)
    t.same(seen, [...seen].sort(), 'in name order')
  }
  const small = (await get(app, '/v1/_packs/many?n=5&last=alias-20')).json()
  t.same(small.tags.map((x: ListedTag) => x.tag), ['alias-21', 'alias-22', 'alias-23'])
})
