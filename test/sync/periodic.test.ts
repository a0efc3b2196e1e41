// The server's periodic mirror (sync.registries[].pollinterval): the first run when the app is
// ready, its outcome in the packyard_sync_* metrics and on the registry page, and a close that
// waits for the run in progress.

import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { buildApp } from '../../src/app.js'
import { join } from 'node:path'
import { SyncMeta } from '../../src/meta/sync.js'
import { listeningApp, tempDir, testApp, testConfig, USERS } from '../helpers.js'
import { freshDatabase } from '../postgres.js'
import { get, pushPack } from '../pack-fixtures.js'

t.test('a server with a pollinterval mirrors its upstream, and shows it', async (t) => {
  const upstream = await listeningApp(t)
  await pushPack(upstream.app, { version: '1.0.0' })
  await pushPack(upstream.app, { version: '1.1.0' })
  const url = `http://${upstream.server}`
  const here = await testApp(t, { sync: { registries: [{ url, username: 'admin', password: USERS.admin, pollinterval: '1h' }] } })
  const deadline = Date.now() + 20_000
  while ((await get(here, '/v1/_packs/hellouniverse/1.1.0')).statusCode !== 200) {
    if (Date.now() > deadline) throw new Error('the periodic mirror did not copy the packs within 20s')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  // The run's event is written after its last tag.
  let page = ''
  while (!page.includes('Mirrors')) {
    if (Date.now() > deadline) throw new Error('the registry page never showed the run')
    await new Promise((resolve) => setTimeout(resolve, 50))
    page = (await get(here, '/registry')).body
  }
  t.match(page, url)
  t.match(page, /ok: 2 packs copied/)
  t.notMatch(page, USERS.admin, 'the password is never shown')

  here.registry.metrics?.refresh()
  const metrics = (await get(here, '/metrics')).body
  t.match(metrics, `packyard_sync_runs_total{upstream="${url}"} 1`)
  t.match(metrics, `packyard_sync_packs_copied_total{upstream="${url}"} 2`)
  t.match(metrics, new RegExp(`packyard_sync_last_success_timestamp_seconds\\{upstream="${url.replace(/\./g, '\\.')}"\\} \\d+`))
  t.match(metrics, `packyard_sync_failed_runs_total{upstream="${url}"} 0`)
})

t.test('two replicas on one PostgreSQL database poll an upstream as one: one run per interval', async (t) => {
  const upstream = await listeningApp(t)
  await pushPack(upstream.app, { version: '1.0.0' })
  let asked = 0
  upstream.app.server.on('request', () => asked++)
  const url = `http://${upstream.server}`
  const database = { url: await freshDatabase(t) }
  const shared = { rootdirectory: join(tempDir(t), 'data') }
  const sync = { registries: [{ url, username: 'admin', password: USERS.admin, pollinterval: '1h' }] }
  const replicas = [await testApp(t, { database, storage: { filesystem: shared }, sync }), await testApp(t, { database, storage: { filesystem: shared }, sync })]
  const deadline = Date.now() + 20_000
  let runs = 0
  while (runs === 0) {
    if (Date.now() > deadline) throw new Error('no sync run within 20s')
    await new Promise((resolve) => setTimeout(resolve, 50))
    runs = (await new SyncMeta(replicas[0]!.registry.db).upstreams()).find((u) => u.upstream === url)?.runs ?? 0
  }
  // The other replica's turn came while the first ran, or after it, within the interval: skipped.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.equal((await new SyncMeta(replicas[1]!.registry.db).upstreams()).find((u) => u.upstream === url)?.runs, 1, 'one run, not one per replica')
  for (const replica of replicas) t.equal((await get(replica, '/v1/_packs/hellouniverse/1.0.0')).statusCode, 200, 'the mirrored pack is on both')
  t.ok(asked > 0)
})

t.test('closing the server ends a run that waits to retry an unavailable upstream', async (t) => {
  let asked = 0
  const down = createServer((_req, res) => {
    asked++
    res.writeHead(503).end()
  })
  await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve))
  t.teardown(() => down.close())
  const url = `http://127.0.0.1:${(down.address() as AddressInfo).port}`
  const app = await buildApp(testConfig(t, { sync: { registries: [{ url, pollinterval: '1h', retries: 5, retrydelay: '30s' }] } }, { auth: false }))
  await app.ready()
  const deadline = Date.now() + 10_000
  while (asked === 0) {
    if (Date.now() > deadline) throw new Error('the periodic run never asked the upstream')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const started = Date.now()
  await app.close()
  t.ok(Date.now() - started < 3000, 'close does not wait for the 30s retry delay')
  t.equal(asked, 1, 'and no retry is made')
})
