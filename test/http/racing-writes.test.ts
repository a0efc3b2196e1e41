// Writes that race for the same version or tag: each request finds what it names inside the
// transaction that changes it, so a tag added to a version being deleted is a 404 (never a
// 500 from a tag on nothing), and of two deletes of one version or tag exactly one happens and
// is in the audit trail once. testApp refuses every 5xx.

import t from 'tap'
import { ADMIN, testApp } from '../helpers.js'
import { pushPack } from '../pack-fixtures.js'

const ROUNDS = 12

t.test('adding a tag to a version while it is deleted: created, or a 404; never a 500', async (t) => {
  const app = await testApp(t)
  const outcomes = new Map<string, number>()
  for (let i = 0; i < ROUNDS; i++) {
    await pushPack(app, { name: 'racing', version: `1.${i}.0` })
    const [tag, del] = await Promise.all([
      app.inject({ method: 'PUT', url: `/v1/_packs/racing/_tags/stable-${i}`, payload: { ref: `1.${i}.0` }, headers: { authorization: ADMIN } }),
      app.inject({ method: 'DELETE', url: `/v1/_packs/racing/1.${i}.0`, headers: { authorization: ADMIN } }),
    ])
    t.equal(del.statusCode, 200, 'the delete went through')
    t.ok([201, 404].includes(tag.statusCode), `the tag: ${tag.statusCode} ${tag.body}`)
    outcomes.set(String(tag.statusCode), (outcomes.get(String(tag.statusCode)) ?? 0) + 1)
    const left = await app.inject({ method: 'GET', url: `/v1/_packs/racing/stable-${i}`, headers: { authorization: ADMIN } })
    t.equal(left.statusCode, 404, 'no tag is left on the deleted version')
  }
  t.ok(outcomes.size > 0, `outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`)
})

t.test('two deletes of one version, and of one tag: one happens, the other is a 404, one event each', async (t) => {
  const app = await testApp(t)
  for (let i = 0; i < ROUNDS; i++) {
    await pushPack(app, { name: 'twice', version: `2.${i}.0` })
    const deletes = await Promise.all([0, 1].map(() => app.inject({ method: 'DELETE', url: `/v1/_packs/twice/2.${i}.0`, headers: { authorization: ADMIN } })))
    t.same(deletes.map((r) => r.statusCode).sort(), [200, 404], `version 2.${i}.0`)
  }
  await pushPack(app, { name: 'twice', version: '3.0.0' })
  for (let i = 0; i < ROUNDS; i++) {
    t.equal((await app.inject({ method: 'PUT', url: `/v1/_packs/twice/_tags/keep-${i}`, payload: { ref: '3.0.0' }, headers: { authorization: ADMIN } })).statusCode, 201)
    const deletes = await Promise.all([0, 1].map(() => app.inject({ method: 'DELETE', url: `/v1/_packs/twice/_tags/keep-${i}`, headers: { authorization: ADMIN } })))
    t.same(deletes.map((r) => r.statusCode).sort(), [200, 404], `tag keep-${i}`)
  }
  const events = await app.inject({ method: 'GET', url: '/v1/_events?repository=twice&n=1000', headers: { authorization: ADMIN } })
  const rows = (events.json() as { events: Array<{ action: string; tag: string | null; oldDigest: string | null }> }).events
  t.equal(rows.filter((e) => e.action === 'delete').length, ROUNDS, 'one delete event per version')
  t.equal(rows.filter((e) => e.action === 'untag').length, ROUNDS, 'one untag event per tag')
})
