import t from 'tap'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { buildApp } from '../../src/app.js'
import Fastify from 'fastify'
import { RegistryError } from '../../src/errors.js'
import { installErrorHandling } from '../../src/http/errors.js'
import { ADMIN, basic, READER, testApp, testConfig } from '../helpers.js'

t.test('GET /health needs no credentials', async (t) => {
  const app = await testApp(t)
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'UP' })
})

t.test('GET /health answers 503 with a reason when storage is gone', async (t) => {
  const config = testConfig(t)
  const app = await buildApp(config)
  t.teardown(() => app.close())
  rmSync(join(config.storage.rootdirectory, 'blobs'), { recursive: true })
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { status: 'DOWN', reason: 'storage unavailable' })
})

t.test('GET /health answers 503 when the database is closed', async (t) => {
  // buildApp, not testApp: this test wants the 503 that testApp refuses.
  const app = await buildApp(testConfig(t, {}, { storage: 'inmemory' }))
  t.teardown(() => app.close().catch(() => undefined))
  app.registry.db.close()
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { status: 'DOWN', reason: 'database unavailable' })
})

t.test('GET /v1/ is the login check, and says who may push', async (t) => {
  const app = await testApp(t)
  const ok = await app.inject({ method: 'GET', url: '/v1/', headers: { authorization: ADMIN } })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { user: 'admin', canPush: true })
  const reader = await app.inject({ method: 'GET', url: '/v1/', headers: { authorization: READER } })
  t.equal(reader.statusCode, 200, 'read-only users may log in')
  t.same(reader.json(), { user: 'reader', canPush: false })
  for (const authorization of [undefined, basic('admin', 'wrong'), basic('ghost', 'x')]) {
    const res = await app.inject({ method: 'GET', url: '/v1/', headers: authorization ? { authorization } : {} })
    t.equal(res.statusCode, 401)
    t.equal(res.headers['www-authenticate'], 'Basic realm="test-realm"')
    t.equal(res.json().errors[0].code, 'UNAUTHORIZED')
  }
})

t.test('too many failures from one address: 429 with Retry-After', async (t) => {
  const app = await testApp(t, { limits: { loginfailures: 2 } })
  for (let i = 0; i < 2; i++) {
    t.equal((await app.inject({ url: '/v1/', headers: { authorization: basic('admin', 'guess') } })).statusCode, 401)
  }
  const res = await app.inject({ url: '/v1/', headers: { authorization: ADMIN } })
  t.equal(res.statusCode, 429)
  t.ok(Number(res.headers['retry-after']) > 0)
  t.equal(res.json().errors[0].code, 'TOO_MANY_REQUESTS')
})

t.test('open mode: auth: none, no credentials needed', async (t) => {
  const app = await testApp(t, {}, { auth: false })
  const res = await app.inject({ method: 'GET', url: '/v1/' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { user: 'anonymous', canPush: true })
})

t.test('Spectro security headers on every response, configurable; HSTS only over HTTPS', async (t) => {
  const app = await testApp(t, { http: { trustedproxies: ['127.0.0.1'] } })
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['x-frame-options'], 'DENY')
  t.equal(res.headers['referrer-policy'], 'same-origin')
  t.equal(res.headers['strict-transport-security'], undefined, 'plain HTTP: no HSTS')
  const proxied = await app.inject({ method: 'GET', url: '/health', headers: { 'x-forwarded-proto': 'https' } })
  t.equal(proxied.headers['strict-transport-security'], 'max-age=63072000; includeSubdomains; preload', 'HTTPS ended at a trusted proxy: HSTS')
  const untrusted = await testApp(t)
  const forged = await untrusted.inject({ method: 'GET', url: '/health', headers: { 'x-forwarded-proto': 'https' } })
  t.equal(forged.headers['strict-transport-security'], undefined, 'X-Forwarded-Proto from a client that is no trusted proxy: not believed')
  const custom = await testApp(t, { http: { headers: { 'X-Custom': ['a'] } } })
  const res2 = await custom.inject({ method: 'GET', url: '/v1/' })
  t.equal(res2.headers['x-custom'], 'a')
  t.equal(res2.headers['x-frame-options'], undefined, 'the configured set replaces the defaults')
})

t.test('unknown routes and methods answer the envelope', async (t) => {
  const app = await testApp(t)
  const res = await app.inject({ method: 'GET', url: '/nope' })
  t.equal(res.statusCode, 404)
  t.same(res.json(), { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint: GET /nope' }] })
})

t.test('5xx never leaks internals; typed errors keep their status and detail', async (t) => {
  // The app's routes never fail this way on purpose, so the handler is mounted on a bare instance.
  const bare = Fastify()
  installErrorHandling(bare)
  bare.get('/boom', async () => {
    throw new Error('SQLITE_CORRUPT at /secret/path/registry.db')
  })
  bare.get('/typed', async () => {
    throw new RegistryError('TAG_EXISTS', 'tag 1.0.0 exists', { tag: '1.0.0' })
  })
  t.teardown(() => bare.close())
  const boom = await bare.inject({ method: 'GET', url: '/boom' })
  t.equal(boom.statusCode, 500)
  t.equal(boom.json().errors[0].code, 'INTERNAL')
  t.notMatch(boom.body, /secret|SQLITE/)
  const typed = await bare.inject({ method: 'GET', url: '/typed' })
  t.equal(typed.statusCode, 409)
  t.same(typed.json(), { errors: [{ code: 'TAG_EXISTS', message: 'tag 1.0.0 exists', detail: { tag: '1.0.0' } }] })
})

t.test('a TLS file that cannot be read stops buildApp with the key named', async (t) => {
  const config = testConfig(t, { http: { tls: { certificate: '/nonexistent/cert.pem', key: '/nonexistent/key.pem' } } })
  await t.rejects(buildApp(config), /config: http\.tls\.certificate: cannot read \/nonexistent\/cert\.pem \(ENOENT\)/)
})
