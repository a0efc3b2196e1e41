// GET /v1/_events: every push, forced push, tag change, delete, garbage collection and login
// lockout is in the audit trail, oldest first, for writers only; filtered by time, pack and
// user; paginated with a Link header like every listing.

import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { EventView } from '../../src/audit.js'
import { collectGarbage } from '../../src/maintenance/gc.js'
import { ADMIN, basic, READER, testApp } from '../helpers.js'
import { archive, get, packFiles, push } from '../pack-fixtures.js'
import { makeImage, pushImage } from './v2-helpers.js'

type Event = EventView

async function events(app: FastifyInstance, query = ''): Promise<Event[]> {
  const res = await get(app, `/v1/_events${query}`)
  if (res.statusCode !== 200) throw new Error(`/v1/_events answered ${res.statusCode}: ${res.body}`)
  return res.json().events as Event[]
}

/** Everything that goes into the log, in order: returns the digests pushed. */
async function doEverything(t: Test, app: FastifyInstance) {
  const first = await push(app, await archive(packFiles()))
  t.equal(first.statusCode, 201)
  const second = await push(app, await archive(packFiles({}, { 'values.yaml': 'replicas: 2\n' })), { force: 'true', message: 'two replicas' })
  t.equal(second.statusCode, 200)
  const tag = await app.inject({ method: 'PUT', url: '/v1/_packs/hellouniverse/_tags/stable', headers: { authorization: ADMIN }, payload: { ref: '1.0.0' } })
  t.equal(tag.statusCode, 201)
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/_tags/stable', headers: { authorization: ADMIN } })).statusCode, 200)
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/1.0.0', headers: { authorization: ADMIN } })).statusCode, 200)
  const wrong = { url: '/v1/', remoteAddress: '10.0.0.7', headers: { authorization: basic('admin', 'wrong') } }
  for (let i = 0; i < 2; i++) t.equal((await app.inject(wrong)).statusCode, 401)
  const report = await collectGarbage(app.registry.db, app.registry.store, app.registry.staging, { actor: 'ops', dryRun: false, graceMs: 0, now: Date.now() + 3600_000 })
  await pushImage(t, app, 'images/app', makeImage('one'), 'latest')
  return { first: first.json().digest as string, second: second.json().digest as string, report }
}

t.test('every change, collection and lockout is in the trail, oldest first', async (t) => {
  const app = await testApp(t, { limits: { loginfailures: 2 } })
  const { first, second, report } = await doEverything(t, app)
  const all = await events(app)
  t.same(
    all.map((e) => [e.action, e.user, e.repository, e.tag]),
    [
      ['create', 'admin', 'hellouniverse', '1.0.0'],
      ['update', 'admin', 'hellouniverse', '1.0.0'],
      ['tag', 'admin', 'hellouniverse', 'stable'],
      ['untag', 'admin', 'hellouniverse', 'stable'],
      ['delete', 'admin', 'hellouniverse', '1.0.0'],
      ['lockout', 'admin', null, null],
      ['gc', 'ops', null, null],
      ['create', 'admin', 'images/app', 'latest'],
    ],
  )
  t.ok(all.every((e, i) => i === 0 || e.id > (all[i - 1] as Event).id), 'ids ascend')
  t.ok(all.every((e) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(e.at)))
  t.match(all[0], { newDigest: first, oldDigest: null, forced: false, message: null, detail: null })
  t.match(all[1], { oldDigest: first, newDigest: second, forced: true, message: 'two replicas' })
  t.match(all[4], { oldDigest: second, message: '1.0.0' })
  t.same(all[5]?.detail, { address: '10.0.0.7', scope: 'user', failures: 2, lockoutSeconds: 900 })
  t.same(all[6]?.detail, {
    blobsRemoved: report.blobsRemoved.length,
    bytesFreed: report.bytesFreed,
    tempFilesRemoved: report.tempFilesRemoved.length,
    blobsKept: report.blobsKept,
    blobsWithinGrace: 0,
    graceSeconds: 0,
  })
  t.ok(report.bytesFreed > 0, 'the collection removed the deleted versions')
})

t.test('writers only', async (t) => {
  const app = await testApp(t)
  const reader = await get(app, '/v1/_events', READER)
  t.equal(reader.statusCode, 403)
  t.match(reader.json().errors[0], { code: 'DENIED', message: /event log is for writers only, and user reader is not one/ })
  t.equal((await app.inject({ url: '/v1/_events' })).statusCode, 401)
  const open = await testApp(t, {}, { auth: false })
  t.equal((await open.inject({ url: '/v1/_events' })).statusCode, 200, 'an open registry lets anyone write, and read the trail')
})

t.test('filters by pack, user and time; pages follow the Link header', async (t) => {
  const app = await testApp(t, { limits: { loginfailures: 2 } })
  await doEverything(t, app)
  const all = await events(app)
  t.same((await events(app, '?pack=hellouniverse')).map((e) => e.action), ['create', 'update', 'tag', 'untag', 'delete'])
  t.same((await events(app, '?pack=images/app')).map((e) => e.action), ['create'])
  t.same((await events(app, '?user=ops')).map((e) => e.action), ['gc'])
  t.same((await events(app, '?user=admin&pack=hellouniverse')).length, 5)
  const third = all[2] as Event
  const since = await events(app, `?since=${encodeURIComponent(third.at)}`)
  t.ok(since.length >= all.length - 2 && since.every((e) => e.at >= third.at), 'since keeps the events at or after that time')
  t.same(await events(app, `?since=${new Date(Date.now() + 60_000).toISOString()}`), [], 'nothing in the future')

  const bad = await get(app, '/v1/_events?since=yesterday')
  t.equal(bad.statusCode, 400)
  t.match(bad.json().errors[0].message, /since/)
  // Valid date-times to the schema that Date.parse cannot read: refused, never "no events".
  for (const unreadable of ['2026-11-23T06:00:00+01', '2026-12-31T23:59:60Z']) {
    const res = await get(app, `/v1/_events?since=${encodeURIComponent(unreadable)}`)
    t.equal(res.statusCode, 400, unreadable)
  }

  const seen: Event[] = []
  let url: string | null = '/v1/_events?n=3&pack=hellouniverse'
  let pages = 0
  while (url !== null) {
    const res = await get(app, url)
    t.equal(res.statusCode, 200)
    seen.push(...(res.json().events as Event[]))
    pages++
    const link = res.headers.link as string | undefined
    url = link ? (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? null) : null
    if (url) t.match(url, /^\/v1\/_events\?n=3&last=\d+&pack=hellouniverse$/, 'the next page keeps the filter')
  }
  t.equal(pages, 2)
  t.same(
    seen.map((e) => e.id),
    all.filter((e) => e.repository === 'hellouniverse').map((e) => e.id),
  )
  // Pages of a time filter: the first seeks to `since`, the next ones continue after `last`.
  const sincePages: Event[] = []
  for (let next: string | null = `/v1/_events?n=2&since=${encodeURIComponent(third.at)}`; next !== null; ) {
    const res = await get(app, next)
    sincePages.push(...(res.json().events as Event[]))
    const link = res.headers.link as string | undefined
    next = link ? (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? null) : null
  }
  t.same(sincePages.map((e) => e.id), since.map((e) => e.id), 'paging a time filter gives the same events')
})
