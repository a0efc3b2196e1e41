// Pull-through (sync.registries[].ondemand): a pull of a pack or tag not here fetches it from the
// upstream first (one upstream fetch for 16 concurrent pulls), a parent tag fetches the versions
// it covers, the content rules bound what is fetched, a down upstream answers a clear 503 at once
// while what is here is served as usual, and a slow one a 503 within ondemandtimeout while the
// fetch goes on for the next pull.

import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { buildApp } from '../../src/app.js'
import { listeningApp, testApp, testConfig } from '../helpers.js'
import { get, pushPack } from '../pack-fixtures.js'
import { forward } from './forward.js'

const OCI = 'application/vnd.oci.image.manifest.v1+json'

t.test('pulls of what is not here fetch it from the on-demand upstream first', async (t) => {
  const upstream = await listeningApp(t, {}, { auth: false })
  const up = upstream.app
  const v100 = await pushPack(up, { version: '1.0.0' })
  await pushPack(up, { version: '1.1.0' })
  await pushPack(up, { version: '2.0.0' })
  await pushPack(up, { version: '2.1.0' })
  await pushPack(up, { name: 'hellothere', version: '0.1.0' })
  await pushPack(up, { name: 'hellothere', version: '0.2.0' })
  await pushPack(up, { name: 'secret', version: '1.0.0' })
  const here = await testApp(t, { sync: { registries: [{ url: `http://${upstream.server}`, ondemand: true, content: [{ packs: ['hello*'] }] }] } }, { auth: false })
  const asked = (what: string) => upstream.requests.filter((r) => r.startsWith(`GET ${what}`)).length

  const pulls = await Promise.all(Array.from({ length: 16 }, () => get(here, '/v1/_packs/hellouniverse/1.0.0/archive')))
  t.same(pulls.map((p) => p.statusCode), Array(16).fill(200), '16 concurrent pulls of a pack not here are served')
  t.same(new Set(pulls.map((p) => p.headers['docker-content-digest'])), new Set([v100.digest]), 'the upstream\'s archive')
  t.equal(asked('/v1/hellouniverse/tags/list'), 1, 'one upstream fetch for all of them')
  t.equal(asked('/v1/hellouniverse/manifests/1.0.0'), 1)
  t.equal(asked('/v1/hellouniverse/manifests/1.1.0'), 0, 'only the tag asked for')

  const parent = await here.inject({ method: 'GET', url: '/v2/spectro-packs/archive/hellouniverse/manifests/2.x', headers: { accept: OCI } })
  const upstream21 = await up.inject({ method: 'GET', url: '/v2/spectro-packs/archive/hellouniverse/manifests/2.1.0', headers: { accept: OCI } })
  t.equal(parent.statusCode, 200, 'a parent tag not here')
  t.equal(parent.headers['docker-content-digest'], upstream21.headers['docker-content-digest'], 'fetches the versions it covers and is computed here')
  t.equal(asked('/v1/hellouniverse/manifests/2.0.0'), 1)
  t.equal(asked('/v1/hellouniverse/manifests/1.1.0'), 0, 'not the versions of other lines')

  const whole = await get(here, '/v1/_packs/hellothere')
  t.equal(whole.statusCode, 200, 'a whole pack not here')
  t.match(whole.body, /"0\.1\.0"/)
  t.match(whole.body, /"0\.2\.0"/)

  t.equal((await get(here, '/v1/_packs/hellouniverse/9.9.9')).statusCode, 404, 'a version the upstream does not have either')
  t.equal((await get(here, '/v1/_packs/secret/1.0.0')).statusCode, 404, 'outside the content rules')
  t.equal(asked('/v1/secret/'), 0, 'which the upstream is not even asked about')
  const before = upstream.requests.length
  t.equal((await get(here, '/v1/_packs/hellouniverse/1.0.0/archive')).statusCode, 200)
  t.equal(upstream.requests.length, before, 'what is here is served without asking the upstream')
  t.equal((await get(here, '/v1/_packs/hellouniverse/stable')).statusCode, 404, 'an alias is not fetched')
  const requests = upstream.requests.length
  t.equal((await get(here, '/v1/_packs/Bad..Name/1.0.0')).statusCode, 400, 'a bad name is the pull\'s own 400')
  t.equal(upstream.requests.length, requests, 'the upstream is not asked')
})

t.test('a down upstream: a clear 503 at once for what is missing, what is here served as usual', async (t) => {
  const app = await buildApp(testConfig(t, { sync: { registries: [{ url: 'http://127.0.0.1:9', ondemand: true, retries: 0 }] } }, { auth: false }))
  t.teardown(() => app.close())
  await pushPack(app, { version: '1.0.0' })
  t.equal((await get(app, '/v1/_packs/hellouniverse/1.0.0/archive')).statusCode, 200)
  const started = Date.now()
  const missing = await get(app, '/v1/_packs/hellouniverse/1.1.0')
  t.ok(Date.now() - started < 5000, 'within a bounded time')
  t.equal(missing.statusCode, 503)
  t.equal(missing.headers['retry-after'], '30')
  t.match(missing.json(), { errors: [{ code: 'UNAVAILABLE', message: /^hellouniverse:1\.1\.0 is not here, and fetching it from http:\/\/127\.0\.0\.1:9 failed: cannot reach http:\/\/127\.0\.0\.1:9: ECONNREFUSED/ }] })
  const v2 = await app.inject({ method: 'GET', url: '/v2/spectro-packs/archive/other/manifests/1.0.0', headers: { accept: OCI } })
  t.equal(v2.statusCode, 503, 'over /v2 too')
})

t.test('a failed whole-pack pull answers 503 and leaves nothing that counts as here: the next pull tries again', async (t) => {
  const upstream = await listeningApp(t, {}, { auth: false })
  await pushPack(upstream.app, { version: '1.0.0' })
  // The first copy fails at its second blob (the first is already linked to the repository here).
  let blobs = 0
  let failing = true
  const flaky = createServer((req, res) => {
    if (failing && req.url?.includes('/blobs/') && ++blobs === 2) {
      failing = false
      res.writeHead(404).end()
      return
    }
    forward(upstream.server, req, res)
  })
  await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve))
  t.teardown(() => flaky.close())
  const url = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`
  const app = await buildApp(testConfig(t, { sync: { registries: [{ url, ondemand: true, retries: 0 }] } }, { auth: false }))
  t.teardown(() => app.close())

  const first = await get(app, '/v1/_packs/hellouniverse')
  t.equal(first.statusCode, 503, 'the failed pull')
  t.match(first.json(), { errors: [{ code: 'UNAVAILABLE', message: new RegExp(`^hellouniverse is not here, and fetching it from ${url.replace(/\./g, '\\.')} failed: .*answered 404`) }] })
  const again = await get(app, '/v1/_packs/hellouniverse')
  t.equal(again.statusCode, 200, 'a later pull tries again, and gets it')
  t.match(again.body, /"1\.0\.0"/)
})

t.test('several on-demand upstreams: the next is tried after one fails, all within one deadline', async (t) => {
  const upstream = await listeningApp(t, {}, { auth: false })
  await pushPack(upstream.app, { version: '1.0.0' })
  const app = await buildApp(testConfig(t, { sync: { registries: [{ url: 'http://127.0.0.1:9', ondemand: true, retries: 0 }, { url: `http://${upstream.server}`, ondemand: true, retries: 0 }] } }, { auth: false }))
  t.teardown(() => app.close())
  t.equal((await get(app, '/v1/_packs/hellouniverse/1.0.0/archive')).statusCode, 200, 'the second upstream serves it after the first failed')

  // Two upstreams that never answer: one deadline for both, and closing ends their requests.
  const hung = createServer(() => {})
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    hung.closeAllConnections()
    hung.close()
  })
  const port = (hung.address() as AddressInfo).port
  const slow = await buildApp(testConfig(t, { sync: { registries: [
    { url: `http://127.0.0.1:${port}`, ondemand: true, ondemandtimeout: '500ms' },
    { url: `http://localhost:${port}`, ondemand: true, ondemandtimeout: '500ms' },
  ] } }, { auth: false }))
  const started = Date.now()
  const pull = await get(slow, '/v1/_packs/hellouniverse/1.0.0')
  const took = Date.now() - started
  t.equal(pull.statusCode, 503)
  t.ok(took < 900, `one deadline, not one per upstream (${took}ms)`)
  t.match(pull.json(), { errors: [{ code: 'UNAVAILABLE', message: `hellouniverse:1.0.0 is not here, and fetching it from http://127.0.0.1:${port} failed: no answer within 0.5s; from http://localhost:${port} failed: not asked: the pull's time was up` }] })
  const closing = Date.now()
  await slow.close()
  t.ok(Date.now() - closing < 3000, 'closing aborts the fetch still waiting on the upstream')
})

t.test('a slow upstream: 503 within ondemandtimeout, and the fetch goes on for the next pull', async (t) => {
  const upstream = await listeningApp(t, {}, { auth: false })
  await pushPack(upstream.app, { version: '1.0.0' })
  // A proxy that answers everything 1.5s late.
  const slow = createServer((req, res) => {
    setTimeout(() => {
      forward(upstream.server, req, res)
    }, 1500)
  })
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    slow.closeAllConnections()
    slow.close()
  })
  const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`
  const app = await buildApp(testConfig(t, { sync: { registries: [{ url, ondemand: true, ondemandtimeout: '300ms' }] } }, { auth: false }))
  t.teardown(() => app.close())

  const started = Date.now()
  const first = await get(app, '/v1/_packs/hellouniverse/1.0.0/archive')
  t.ok(Date.now() - started < 1200, 'answered within the timeout, not after the upstream')
  t.equal(first.statusCode, 503)
  t.match(first.json(), { errors: [{ code: 'UNAVAILABLE', message: `hellouniverse:1.0.0 is not here, and fetching it from ${url} failed: no answer within 0.3s` }] })
  const deadline = Date.now() + 20_000
  let later = first
  while (later.statusCode !== 200) {
    if (Date.now() > deadline) throw new Error(`the fetch did not finish: ${later.body}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
    later = await get(app, '/v1/_packs/hellouniverse/1.0.0/archive')
  }
  t.equal(upstream.requests.filter((r) => r.startsWith('GET /v1/hellouniverse/manifests/1.0.0')).length, 1, 'one fetch, which went on')
})
