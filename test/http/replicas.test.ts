// Replicas visible, over app.inject: a server records itself in the database when it is ready;
// the registry page lists every replica recorded with its state, /metrics carries this replica's
// id and counts the replicas by state, and the events a push writes name the replica that took
// it. Then two servers on one PostgreSQL database (two replicas, one storage root): each page
// lists both, and a change made through one is shown by the other as the other's.

import t from 'tap'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { ReplicaTable } from '../../src/meta/replicas.js'
import { FORGET_AFTER_MS, HEARTBEAT_MS, LIVE_BEATS } from '../../src/replica-presence.js'
import { VERSION } from '../../src/version.js'
import { ADMIN, tempDir, testApp } from '../helpers.js'
import { archive, packFiles, push } from '../pack-fixtures.js'
import { freshDatabase } from '../postgres.js'

/** The body of a GET as admin, which must answer 200. */
async function body(app: FastifyInstance, url: string): Promise<string> {
  const res = await app.inject({ url, headers: { authorization: ADMIN } })
  if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}: ${res.body}`)
  return res.body
}

const scrape = (app: FastifyInstance) => body(app, '/metrics')
const registryPage = (app: FastifyInstance) => body(app, '/registry')

/** The Replicas table's rows as text: id, address, version, state, one string per row. */
function replicaRows(html: string): string[] {
  const section = /<h2>Replicas<\/h2>([\s\S]*?)<\/section>/.exec(html)?.[1] ?? ''
  return [...section.matchAll(/<tr>([\s\S]*?)<\/tr>/g)]
    .map((row) => (row[1] ?? '').replace(/<time[^>]*>[^<]*<\/time>/g, 'TIME').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim())
    .filter((row) => !row.startsWith('Replica '))
}

async function events(app: FastifyInstance): Promise<Array<{ action: string; repository: string | null; replica: string | null }>> {
  return (JSON.parse(await body(app, '/v1/_events')) as { events: Array<{ action: string; repository: string | null; replica: string | null }> }).events
}

t.test('one server: on the registry page, in /metrics, and in the events it writes', async (t) => {
  const app = await testApp(t, { replica: { id: 'registry-1', address: 'http://10.0.0.7:5000' } })
  t.same(replicaRows(await registryPage(app)), [`registry-1 (this page) http://10.0.0.7:5000 ${VERSION} TIME TIME live`], 'recorded when the server became ready')

  let text = await scrape(app)
  t.match(text, new RegExp(`^packyard_replica_info\\{replica="registry-1",version="${VERSION.replace(/\./g, '\\.')}"\\} 1$`, 'm'))
  t.match(text, /^packyard_replicas\{state="live"\} 1$/m)
  t.match(text, /^packyard_replicas\{state="gone"\} 0$/m)

  t.equal((await push(app, await archive(packFiles()))).statusCode, 201)
  t.same(
    (await events(app)).map((e) => [e.action, e.repository, e.replica]),
    [['create', 'hellouniverse', 'registry-1']],
    'the push is recorded as handled by this replica',
  )

  // A replica that stopped a minute ago, and one gone for longer than a day (deleted by the next beat).
  const table = new ReplicaTable(app.registry.db)
  const now = Date.now()
  const options = { liveWithinMs: LIVE_BEATS * HEARTBEAT_MS, forgetAfterMs: FORGET_AFTER_MS }
  await table.beat({ id: 'registry-0', address: 'http://10.0.0.6:5000', version: '0.9.0', startedAt: now - 3600_000 }, now - 60_000, options)
  await app.registry.metrics?.refresh()
  text = await scrape(app)
  t.match(text, /^packyard_replicas\{state="live"\} 1$/m, 'counted from the database at the refresh')
  t.match(text, /^packyard_replicas\{state="gone"\} 1$/m)
  t.same(replicaRows(await registryPage(app)), [
    'registry-0 http://10.0.0.6:5000 0.9.0 TIME TIME gone',
    `registry-1 (this page) http://10.0.0.7:5000 ${VERSION} TIME TIME live`,
  ])
})

t.test('two replicas on one PostgreSQL database: each lists both, and names the other for its changes', async (t) => {
  const url = await freshDatabase(t)
  const root = join(tempDir(t), 'data')
  const replica = (id: string) => testApp(t, { storage: { filesystem: { rootdirectory: root } }, database: { url, pool: 4 }, replica: { id, address: `http://${id}:5000` } })
  const a = await replica('a')
  const b = await replica('b')

  t.equal((await push(b, await archive(packFiles()))).statusCode, 201)
  t.same(
    (await events(a)).map((e) => [e.action, e.repository, e.replica]),
    [['create', 'hellouniverse', 'b']],
    'replica a shows the push replica b took',
  )
  t.same(replicaRows(await registryPage(a)), [`a (this page) http://a:5000 ${VERSION} TIME TIME live`, `b http://b:5000 ${VERSION} TIME TIME live`])
  t.same(replicaRows(await registryPage(b)), [`a http://a:5000 ${VERSION} TIME TIME live`, `b (this page) http://b:5000 ${VERSION} TIME TIME live`])
  await a.registry.metrics?.refresh()
  const text = await scrape(a)
  t.match(text, /^packyard_replica_info\{replica="a",version="[^"]+"\} 1$/m, "each replica's /metrics names itself")
  t.notMatch(text, /replica="b"/)
  t.match(text, /^packyard_replicas\{state="live"\} 2$/m)
})
