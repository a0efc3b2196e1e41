// GET /metrics: every metric family is there; a scrape after pushes, pulls, failed logins, a
// garbage collection and an upload purge shows each counted where it belongs; credentials on
// the API's address, none on metrics.addr (server.test.ts starts that listener for real).

import t from 'tap'
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { collectGarbage } from '../../src/maintenance/gc.js'
import { PACKAGE_ROOT } from '../../src/paths.js'
import { VERSION } from '../../src/version.js'
import { ADMIN, basic, listeningApp, READER, testApp } from '../helpers.js'
import { archive, get, packFiles, push } from '../pack-fixtures.js'
import { makeImage, OCTET, pushImage, putManifest } from './v2-helpers.js'

/** The value of one sample of the exposition: `name{labels} value`, labels in any order. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]))
    if (Object.keys(have).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3])
  }
  return undefined
}

async function scrape(app: FastifyInstance): Promise<string> {
  const res = await app.inject({ url: '/metrics', headers: { authorization: ADMIN } })
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}: ${res.body}`)
  return res.body
}

const FAMILIES = [
  'packyard_http_requests_total',
  'packyard_http_request_duration_seconds',
  'packyard_http_received_bytes_total',
  'packyard_http_sent_bytes_total',
  'packyard_pushes_total',
  'packyard_pulls_total',
  'packyard_auth_failures_total',
  'packyard_auth_lockouts_total',
  'packyard_upload_sessions_open',
  'packyard_blobs',
  'packyard_blob_bytes',
  'packyard_gc_runs_total',
  'packyard_gc_removed_blobs_total',
  'packyard_gc_reclaimed_bytes_total',
  'packyard_upload_purge_runs_total',
  'packyard_upload_purged_total',
  'packyard_upload_purged_bytes_total',
  'packyard_db_write_transaction_seconds',
  'packyard_build_info',
  'packyard_replica_info',
  'packyard_replicas',
  'packyard_packs',
  'packyard_pack_versions',
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_seconds',
  'nodejs_heap_size_used_bytes',
]

t.test('every metric family is exposed, to any user with credentials', async (t) => {
  const app = await testApp(t)
  const anonymous = await app.inject({ url: '/metrics' })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.headers['www-authenticate'], 'Basic realm="test-realm"')
  const res = await app.inject({ url: '/metrics', headers: { authorization: READER } })
  t.equal(res.statusCode, 200, 'a read-only user (a prometheus user) may scrape')
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const families = new Set([...res.body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]))
  for (const family of FAMILIES) t.ok(families.has(family), family)
  for (const surface of ['v1-packs', 'v1-distribution', 'v2']) {
    for (const outcome of ['created', 'updated', 'unchanged', 'refused', 'failed']) t.equal(sample(res.body, 'packyard_pushes_total', { surface, outcome }), 0, `${surface} ${outcome} starts at 0`)
  }
  t.equal(sample(res.body, 'packyard_build_info', { version: VERSION }), 1, 'which version runs')
})

t.test('packs and pack versions come from the metadata, on refresh', async (t) => {
  const app = await testApp(t)
  const metrics = app.registry.metrics
  if (!metrics) throw new Error('metrics are on by default')
  const empty = await scrape(app)
  t.equal(sample(empty, 'packyard_packs'), 0)
  t.equal(sample(empty, 'packyard_pack_versions'), 0)
  t.equal((await push(app, await archive(packFiles()))).statusCode, 201)
  t.equal((await push(app, await archive(packFiles({ version: '1.1.0' })))).statusCode, 201)
  t.equal((await push(app, await archive(packFiles({ name: 'other' })))).statusCode, 201)
  t.equal(sample(await scrape(app), 'packyard_pack_versions'), 0, 'not refreshed since start-up')
  await metrics.refresh()
  const three = await scrape(app)
  t.equal(sample(three, 'packyard_packs'), 2)
  t.equal(sample(three, 'packyard_pack_versions'), 3)
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/_packs/other/1.0.0', headers: { authorization: ADMIN } })).statusCode, 200)
  await metrics.refresh()
  const two = await scrape(app)
  t.equal(sample(two, 'packyard_packs'), 1)
  t.equal(sample(two, 'packyard_pack_versions'), 2)
})

t.test('the Grafana dashboard in docs/ queries only metrics the registry exposes', async (t) => {
  const dashboard = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'docs', 'grafana-dashboard.json'), 'utf8')) as {
    __inputs: Array<{ pluginId: string }>
    panels: Array<{ type: string; targets?: Array<{ expr: string }> }>
  }
  t.same(dashboard.__inputs.map((i) => i.pluginId), ['prometheus'], 'importable: asks for a Prometheus data source')
  const app = await testApp(t)
  const families = new Set([...(await scrape(app)).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]))
  const queried = new Set(dashboard.panels.flatMap((p) => p.targets ?? []).flatMap((target) => [...target.expr.matchAll(/\b((?:packyard|process|nodejs)_\w+)/g)].map((m) => m[1] as string)))
  t.ok(queried.size > 15, `${queried.size} metrics queried`)
  for (const name of queried) t.ok(families.has(name.replace(/_(bucket|count|sum)$/, '')), name)
})

t.test('a scrape counts pushes by surface and outcome, pulls, requests, bytes and logins', async (t) => {
  const app = await testApp(t, { limits: { loginfailures: 2 } })
  const tgz = await archive(packFiles())
  t.equal((await push(app, tgz)).statusCode, 201)
  t.equal((await push(app, tgz)).statusCode, 409)
  t.equal((await push(app, await archive(packFiles({}, { 'values.yaml': 'x: 1\n' })), { force: 'true', message: 'new values' })).statusCode, 200)
  const pulled = await get(app, '/v1/_packs/hellouniverse/1.0.0/archive')
  t.equal(pulled.statusCode, 200)
  t.equal((await app.inject({ method: 'HEAD', url: '/v1/_packs/hellouniverse/1.0.0/archive', headers: { authorization: ADMIN } })).statusCode, 200)
  t.equal((await get(app, '/v1/hellouniverse/manifests/1.0.0')).statusCode, 200)

  const first = makeImage('one')
  await pushImage(t, app, 'images/app', first, 'latest')
  await pushImage(t, app, 'images/app', makeImage('two'), 'latest')
  t.equal((await putManifest(app, 'images/app', 'latest', first.manifest)).statusCode, 201)
  t.equal((await putManifest(app, 'images/app', 'latest', first.manifest)).statusCode, 201)
  t.equal((await putManifest(app, 'images/app', 'broken', '{')).statusCode, 400)
  t.equal((await get(app, '/v2/images/app/manifests/latest')).statusCode, 200)

  const wrong = { url: '/v1/', remoteAddress: '10.0.0.7', headers: { authorization: basic('admin', 'wrong') } }
  for (let i = 0; i < 2; i++) t.equal((await app.inject(wrong)).statusCode, 401)
  t.equal((await app.inject(wrong)).statusCode, 429)

  const text = await scrape(app)
  const pushes = (surface: string, outcome: string) => sample(text, 'packyard_pushes_total', { surface, outcome })
  t.equal(pushes('v1-packs', 'created'), 1)
  t.equal(pushes('v1-packs', 'refused'), 1, 'TAG_EXISTS is a refused push')
  t.equal(pushes('v1-packs', 'updated'), 1)
  t.equal(pushes('v2', 'created'), 1)
  t.equal(pushes('v2', 'updated'), 2, 'the tag moved to the second image and back')
  t.equal(pushes('v2', 'unchanged'), 1)
  t.equal(pushes('v2', 'refused'), 1)
  t.equal(sample(text, 'packyard_pulls_total', { surface: 'v1-packs' }), 1, 'the archive GET is a pull, the HEAD is not')
  t.equal(sample(text, 'packyard_pulls_total', { surface: 'v1-distribution' }), 1)
  t.equal(sample(text, 'packyard_pulls_total', { surface: 'v2' }), 1)
  t.equal(sample(text, 'packyard_http_requests_total', { method: 'POST', route: '/v1/_packs', status: '201' }), 1)
  t.equal(sample(text, 'packyard_http_requests_total', { method: 'POST', route: '/v1/_packs', status: '409' }), 1)
  t.equal(sample(text, 'packyard_http_request_duration_seconds_count', { method: 'POST', route: '/v1/_packs' }), 3)
  t.ok((sample(text, 'packyard_http_received_bytes_total', { route: '/v1/_packs' }) ?? 0) > 3 * tgz.length, 'the pushed bytes came in')
  t.ok((sample(text, 'packyard_http_sent_bytes_total', { route: '/v1/_packs/:name/:ref/archive' }) ?? 0) >= pulled.rawPayload.length, 'the pulled bytes went out')
  t.equal(sample(text, 'packyard_auth_failures_total'), 2)
  t.equal(sample(text, 'packyard_auth_lockouts_total', { scope: 'user' }), 1)
  t.ok((sample(text, 'packyard_db_write_transaction_seconds_count') ?? 0) > 5, 'every write transaction is timed')
})

t.test('stored blobs and garbage collection come from the metadata, on refresh', async (t) => {
  const app = await testApp(t)
  const metrics = app.registry.metrics
  if (!metrics) throw new Error('metrics are on by default')
  const tgz = await archive(packFiles())
  t.equal((await push(app, tgz)).statusCode, 201)
  const before = await scrape(app)
  t.equal(sample(before, 'packyard_blobs'), 0, 'not refreshed since start-up')

  await metrics.refresh()
  const { n, bytes } = (await app.registry.db.prepare('SELECT COUNT(*) AS n, SUM(size) AS bytes FROM blobs').get()) as { n: number; bytes: number }
  const stored = await scrape(app)
  t.equal(sample(stored, 'packyard_blobs'), n)
  t.equal(sample(stored, 'packyard_blob_bytes'), bytes)
  t.ok(bytes > tgz.length)

  t.equal((await app.inject({ method: 'DELETE', url: '/v1/_packs/hellouniverse/1.0.0', headers: { authorization: ADMIN } })).statusCode, 200)
  const report = await collectGarbage(app.registry.db, app.registry.store, app.registry.staging, { actor: 'ops', dryRun: false, graceMs: 0, now: Date.now() + 3600_000 })
  t.ok(report.bytesFreed > 0)
  await metrics.refresh()
  const collected = await scrape(app)
  t.equal(sample(collected, 'packyard_gc_runs_total'), 1)
  t.equal(sample(collected, 'packyard_gc_removed_blobs_total'), report.blobsRemoved.length)
  t.equal(sample(collected, 'packyard_gc_reclaimed_bytes_total'), report.bytesFreed)
  t.equal(sample(collected, 'packyard_blobs'), 0)
})

t.test('open upload sessions at scrape time, and the purging of abandoned ones', async (t) => {
  const app = await testApp(t, { storage: { maintenance: { uploadpurging: { age: '200ms', interval: '100ms' } } } })
  const start = await app.inject({ method: 'POST', url: '/v2/images/app/blobs/uploads/', headers: { authorization: ADMIN } })
  t.equal(start.statusCode, 202)
  const patch = await app.inject({ method: 'PATCH', url: start.headers.location as string, headers: { authorization: ADMIN, 'content-type': OCTET }, payload: 'ten bytes!' })
  t.equal(patch.statusCode, 202)
  t.equal(sample(await scrape(app), 'packyard_upload_sessions_open'), 1)
  let text = ''
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100))
    text = await scrape(app)
    if (sample(text, 'packyard_upload_purged_total', { what: 'sessions' }) === 1) break
  }
  t.equal(sample(text, 'packyard_upload_purged_total', { what: 'sessions' }), 1)
  t.equal(sample(text, 'packyard_upload_purged_bytes_total'), 10)
  t.ok((sample(text, 'packyard_upload_purge_runs_total') ?? 0) >= 1)
  t.equal(sample(text, 'packyard_upload_sessions_open'), 0)
})

t.test('over a real connection, bytes in and out are what crossed the socket', async (t) => {
  const { server } = await listeningApp(t)
  const [host, port] = server.split(':') as [string, string]
  const get = (path: string) =>
    new Promise<string>((resolve, reject) => {
      const req = request({ host, port, path, headers: { authorization: ADMIN } }, (res) => {
        let body = ''
        res.on('data', (d: Buffer) => (body += d.toString()))
        res.on('end', () => resolve(body))
      })
      req.on('error', reject)
      req.end()
    })
  const health = await get('/health')
  t.equal(health, '{"status":"UP"}')
  const text = await get('/metrics')
  const received = sample(text, 'packyard_http_received_bytes_total', { route: '/health' }) ?? 0
  const sent = sample(text, 'packyard_http_sent_bytes_total', { route: '/health' }) ?? 0
  t.ok(received > 20 && received < 500, `the request line and headers (${received} bytes)`)
  t.ok(sent > health.length && sent < 2000, `the status line, headers and body (${sent} bytes)`)
})

t.test('metrics.enabled: false serves no /metrics; metrics.addr moves it off the API address', async (t) => {
  const off = await testApp(t, { metrics: { enabled: false } })
  t.equal((await off.inject({ url: '/metrics', headers: { authorization: ADMIN } })).statusCode, 404)
  t.equal(off.registry.metrics, null)
  const elsewhere = await testApp(t, { metrics: { addr: '127.0.0.1:0' } })
  t.equal((await elsewhere.inject({ url: '/metrics', headers: { authorization: ADMIN } })).statusCode, 404)
  t.not(elsewhere.registry.metrics, null, 'collected, for the listener server.ts starts')
  await t.rejects(testApp(t, { metrics: { addr: 'nine thousand' } }), /metrics\.addr: must be host:port/)
})
