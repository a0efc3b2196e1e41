// Who may do what on /v2: credentials for everything, a writer for every change; and the
// answers for endpoints and methods that do not exist.

import t from 'tap'
import { ADMIN, basic, READER, testApp } from '../helpers.js'
import { digestOf, errorCode, makeImage, OCTET, pushImage, putManifest } from './v2-helpers.js'

t.test('no or bad credentials: 401 with the Basic challenge and the API version header', async (t) => {
  const app = await testApp(t)
  for (const url of ['/v2/', '/v2/_catalog', '/v2/a/manifests/v1', '/v2/a/tags/list']) {
    for (const authorization of [undefined, basic('admin', 'wrong')]) {
      const res = await app.inject({ url, headers: authorization ? { authorization } : {} })
      t.equal(res.statusCode, 401, url)
      t.equal(res.headers['www-authenticate'], 'Basic realm="test-realm"')
      t.equal(res.headers['docker-distribution-api-version'], 'registry/2.0')
      t.equal(errorCode(res), 'UNAUTHORIZED')
    }
  }
  const push = await app.inject({ method: 'POST', url: '/v2/a/blobs/uploads/' })
  t.equal(push.statusCode, 401)
})

t.test('a reader may pull but not push, tag or delete (403 DENIED)', async (t) => {
  const app = await testApp(t)
  const image = makeImage('readable')
  await pushImage(t, app, 'a', image, 'v1')
  const reader = { authorization: READER }
  t.equal((await app.inject({ url: '/v2/', headers: reader })).statusCode, 200)
  t.equal((await app.inject({ url: '/v2/a/manifests/v1', headers: reader })).statusCode, 200)
  t.equal((await app.inject({ url: `/v2/a/blobs/${digestOf(image.config)}`, headers: reader })).statusCode, 200)
  t.equal((await app.inject({ url: '/v2/a/tags/list', headers: reader })).statusCode, 200)
  t.equal((await app.inject({ url: '/v2/_catalog', headers: reader })).statusCode, 200)

  const start = await app.inject({ method: 'POST', url: '/v2/a/blobs/uploads/', headers: { authorization: ADMIN } })
  const location = start.headers.location as string
  const packStart = await app.inject({ method: 'POST', url: '/v2/spectro-packs/archive/a/blobs/uploads/', headers: { authorization: ADMIN } })
  const packLocation = packStart.headers.location as string
  const writes = [
    { method: 'POST' as const, url: '/v2/a/blobs/uploads/' },
    { method: 'POST' as const, url: `/v2/a/blobs/uploads/?digest=${digestOf('x')}`, payload: 'x' },
    { method: 'PATCH' as const, url: location, payload: 'x' },
    { method: 'PUT' as const, url: `${location}?digest=${digestOf('x')}`, payload: 'x' },
    { method: 'PUT' as const, url: '/v2/a/manifests/v2', payload: image.manifest },
    { method: 'DELETE' as const, url: '/v2/a/manifests/v1' },
    { method: 'DELETE' as const, url: `/v2/a/blobs/${digestOf(image.config)}` },
    { method: 'DELETE' as const, url: location },
    // A session's status is part of pushing (distribution asks for push access there too).
    { method: 'GET' as const, url: location },
    { method: 'HEAD' as const, url: location },
    { method: 'GET' as const, url: packLocation.replace(/^\/v2\/spectro-packs\/archive\//, '/v1/') },
  ]
  for (const w of writes) {
    const res = await app.inject({ ...w, headers: { ...reader, 'content-type': OCTET } })
    t.equal(res.statusCode, 403, `${w.method} ${w.url}`)
    if (w.method !== 'HEAD') t.equal(errorCode(res), 'DENIED')
  }
  t.equal((await app.inject({ url: location, headers: { authorization: ADMIN } })).statusCode, 204, 'the writer reads its session')
  t.equal((await app.inject({ url: packLocation.replace(/^\/v2\/spectro-packs\/archive\//, '/v1/'), headers: { authorization: ADMIN } })).statusCode, 204, 'on /v1 too')
  t.same((await app.inject({ url: '/v2/a/tags/list', headers: reader })).json().tags, ['v1'], 'nothing changed')
})

t.test('open mode: with auth: none anyone may push', async (t) => {
  const app = await testApp(t, {}, { auth: false })
  const image = makeImage('open')
  await pushImage(t, app, 'a', image, 'v1')
  const events = await app.registry.db.prepare('SELECT actor FROM events').all()
  t.same(events, [{ actor: 'anonymous' }])
})

t.test('unknown endpoints are 404; methods an endpoint lacks are 405 UNSUPPORTED', async (t) => {
  const app = await testApp(t)
  await pushImage(t, app, 'a', makeImage('x'), 'v1')
  const auth = { authorization: ADMIN }
  const notFound = await app.inject({ url: '/v2/a/unknown/endpoint', headers: auth })
  t.equal(notFound.statusCode, 404)
  t.equal(errorCode(notFound), 'NOT_FOUND')
  const cases = [
    { method: 'PATCH' as const, url: '/v2/a/manifests/v1' },
    { method: 'POST' as const, url: '/v2/a/manifests/v1' },
    { method: 'PUT' as const, url: '/v2/a/tags/list' },
    { method: 'DELETE' as const, url: '/v2/a/tags/list' },
    { method: 'GET' as const, url: '/v2/a/blobs/uploads/' },
    { method: 'PUT' as const, url: `/v2/a/blobs/${digestOf('x')}` },
  ]
  for (const c of cases) {
    const res = await app.inject({ ...c, headers: auth })
    t.equal(res.statusCode, 405, `${c.method} ${c.url}`)
    t.equal(errorCode(res), 'UNSUPPORTED')
  }
  const manifest = await putManifest(app, 'a', 'v2', '{}', 'not a media type')
  t.equal(manifest.statusCode, 415, 'a malformed Content-Type')
})
