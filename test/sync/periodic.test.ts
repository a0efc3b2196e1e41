// The server's periodic mirror (sync.registries[].pollinterval): the first run when the app is
// ready, its outcome in the packyard_sync_* metrics and on the registry page, and a close that
// waits for the run in progress.

import t from 'tap'
import { listeningApp, testApp, USERS } from '../helpers.js'
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
