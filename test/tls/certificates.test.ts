// Certificates from files: a broken or mismatched pair stops start-up naming the setting;
// replaced files are served from the next handshake on (SIGHUP at once, otherwise within the
// 10-second poll) without dropping open connections; a mismatched replacement is refused and
// the previous pair kept; mutual TLS refuses clients without a certificate from clientcas.

import t from 'tap'
import { X509Certificate } from 'node:crypto'
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { buildApp } from '../../src/app.js'
import { isRequestLine, runBin, startServer, tempDir, testConfig } from '../helpers.js'
import { type KeyPair, makeCa, makeCertificate, tlsGet } from './helpers.js'

/** Puts a pair in place the way certbot or cert-manager do: new files renamed over the old. */
function install(pair: { cert: string; key: string }, target: KeyPair): void {
  copyFileSync(pair.cert, `${target.cert}.new`)
  copyFileSync(pair.key, `${target.key}.new`)
  renameSync(`${target.cert}.new`, target.cert)
  renameSync(`${target.key}.new`, target.key)
}

function fingerprint(pemFile: string): string {
  return new X509Certificate(readFileSync(pemFile)).fingerprint256
}

t.test('a broken or mismatched pair stops start-up naming the setting', async (t) => {
  const dir = tempDir(t)
  const ca = makeCa(dir, 'ca')
  const one = makeCertificate(dir, 'one', ca, ['127.0.0.1'])
  const two = makeCertificate(dir, 'two', ca, ['127.0.0.1'])
  const garbage = join(dir, 'garbage.pem')
  writeFileSync(garbage, 'not a certificate\n')
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ certificate: one.cert, key: two.key }, new RegExp(`^config: http\\.tls\\.key: the private key in ${two.key} does not match the certificate in http\\.tls\\.certificate \\(${one.cert}, issued to IP Address:127\\.0\\.0\\.1\\)$`)],
    [{ certificate: garbage, key: one.key }, new RegExp(`^config: http\\.tls\\.certificate: ${garbage} does not hold a PEM certificate$`)],
    [{ certificate: one.cert, key: garbage }, new RegExp(`^config: http\\.tls\\.key: ${garbage} does not hold an unencrypted PEM private key$`)],
    [{ certificate: one.cert, key: one.key, clientcas: [garbage] }, new RegExp(`^config: http\\.tls\\.clientcas: ${garbage} does not hold a PEM CA certificate$`)],
  ]
  for (const [tls, message] of cases) {
    await t.rejects(buildApp(testConfig(t, { http: { tls } })), { message }, JSON.stringify(tls))
  }
  const cli = await runBin(['serve'], { cwd: dir, env: { REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_HTTP_TLS_CERTIFICATE: one.cert, REGISTRY_HTTP_TLS_KEY: two.key } })
  t.equal(cli.code, 1)
  t.match(cli.stderr, /^Error: config: http\.tls\.key: the private key in .* does not match the certificate in http\.tls\.certificate/, 'no bare OpenSSL code')
  t.notMatch(cli.stderr, /error:[0-9A-F]{8}/)
})

t.test('an app with certificate files still answers app.inject(); HTTPS answers carry HSTS', async (t) => {
  const dir = tempDir(t)
  const ca = makeCa(dir, 'ca')
  const pair = makeCertificate(dir, 'server', ca, ['127.0.0.1'])
  const app = await buildApp(testConfig(t, { http: { tls: { certificate: pair.cert, key: pair.key } } }))
  t.teardown(() => app.close())
  t.equal((await app.inject({ url: '/health' })).statusCode, 200)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const res = await tlsGet({ port: (app.server.address() as AddressInfo).port, ca: readFileSync(ca.cert) })
  t.equal(res.status, 200)
  t.equal(res.headers['strict-transport-security'], 'max-age=63072000; includeSubdomains; preload')
})

t.test('a certificate naming its host only in the Common Name is served, with a warning that Go clients refuse it', async (t) => {
  const dir = tempDir(t)
  const legacy = makeCertificate(dir, 'legacy', makeCa(dir, 'ca'))
  const server = await startServer(t, [], { REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_HTTP_TLS_CERTIFICATE: legacy.cert, REGISTRY_HTTP_TLS_KEY: legacy.key }, dir)
  const warning = server.logs().find((l) => String(l.msg).startsWith('the certificate in http.tls.certificate has no subjectAltName'))
  t.match(warning, { level: 'warn', names: 'CN=legacy', msg: /Palette and other Go clients will refuse it; issue it again with one, e\.g\. openssl req .* -addext "subjectAltName=DNS:<host>"$/ })
  server.child.kill('SIGTERM')
  await server.exited
  const modern = makeCertificate(dir, 'modern', makeCa(dir, 'ca2'), ['127.0.0.1'])
  const again = await startServer(t, [], { REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_HTTP_TLS_CERTIFICATE: modern.cert, REGISTRY_HTTP_TLS_KEY: modern.key }, dir)
  t.notOk(again.logs().some((l) => String(l.msg).includes('no subjectAltName')), 'no warning with a subjectAltName')
  again.child.kill('SIGTERM')
  await again.exited
})

t.test('replaced files are served from the next handshake; a mismatched pair is refused', async (t) => {
  const dir = tempDir(t)
  const ca = makeCa(dir, 'ca')
  const caPem = readFileSync(ca.cert)
  const served: KeyPair = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') }
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => makeCertificate(dir, n, ca, ['127.0.0.1', 'files.test'])) as [KeyPair, KeyPair, KeyPair, KeyPair]
  install(a, served)
  const server = await startServer(t, [], { REGISTRY_AUTH: 'none', REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_HTTP_TLS_CERTIFICATE: served.cert, REGISTRY_HTTP_TLS_KEY: served.key }, dir)
  const port = Number(new URL(server.url).port)
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  const get = (viaAgent = false) => tlsGet({ port, ca: caPem, ...(viaAgent ? { agent } : {}) })
  const waitForLog = async (msg: string, count: number, ms: number) => {
    const deadline = Date.now() + ms
    while (server.logs().filter((l) => l.msg === msg).length < count) {
      if (Date.now() > deadline) throw new Error(`no "${msg}" log line within ${ms} ms:\n${server.stdout()}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  const before = await get(true)
  t.equal(before.certificate.fingerprint256, fingerprint(a.cert), 'no SNI: the configured pair')

  install(b, served)
  server.child.kill('SIGHUP')
  await waitForLog('certificate reloaded from http.tls.certificate and http.tls.key', 1, 5000)
  t.equal((await get()).certificate.fingerprint256, fingerprint(b.cert), 'SIGHUP: the new pair at once')
  const kept = await get(true)
  t.ok(kept.reusedSocket, 'the connection opened before the reload still answers')
  t.equal(kept.certificate.fingerprint256, fingerprint(a.cert))
  t.equal((await tlsGet({ port, ca: caPem, servername: 'files.test' })).certificate.fingerprint256, fingerprint(b.cert), 'with SNI too')

  install(c, served)
  await waitForLog('certificate reloaded from http.tls.certificate and http.tls.key', 2, 15_000)
  t.equal((await get()).certificate.fingerprint256, fingerprint(c.cert), 'picked up without a signal')

  install({ cert: d.cert, key: c.key }, served)
  server.child.kill('SIGHUP')
  await waitForLog('refused the new certificate files; still serving the previous certificate', 1, 5000)
  const refused = server.logs().find((l) => l.msg === 'refused the new certificate files; still serving the previous certificate')
  t.match(refused, { level: 'warn', reason: 'SIGHUP', error: /^config: http\.tls\.key: the private key in .* does not match the certificate in http\.tls\.certificate/ })
  t.equal((await get()).certificate.fingerprint256, fingerprint(c.cert), 'the previous pair is kept')

  server.child.kill('SIGHUP')
  await waitForLog('refused the new certificate files; still serving the previous certificate', 2, 5000)
  t.equal((await get()).certificate.fingerprint256, fingerprint(c.cert), 'SIGHUP checks a refused pair again, and refuses it again')
  install(c, served)
  server.child.kill('SIGHUP')
  await waitForLog('certificate files unchanged', 1, 5000)
  t.equal(server.logs().filter((l) => l.msg === 'certificate reloaded from http.tls.certificate and http.tls.key').length, 2, 'the served pair back in place is no reload')
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
})

t.test('mutual TLS: a client needs a certificate signed by one of clientcas', async (t) => {
  const dir = tempDir(t)
  const ca = makeCa(dir, 'ca')
  const clientCa = makeCa(dir, 'client-ca')
  const otherCa = makeCa(dir, 'other-ca')
  const serverPair = makeCertificate(dir, 'server', ca, ['127.0.0.1'])
  const trusted = makeCertificate(dir, 'trusted-client', clientCa)
  const stranger = makeCertificate(dir, 'stranger', otherCa)
  const server = await startServer(
    t,
    [],
    {
      REGISTRY_AUTH: 'none',
      REGISTRY_HTTP_ADDR: '127.0.0.1:0',
      REGISTRY_HTTP_TLS_CERTIFICATE: serverPair.cert,
      REGISTRY_HTTP_TLS_KEY: serverPair.key,
      REGISTRY_HTTP_TLS_CLIENTCAS: clientCa.cert,
      REGISTRY_LOG_LEVEL: 'debug',
    },
    dir,
  )
  const port = Number(new URL(server.url).port)
  const caPem = readFileSync(ca.cert)
  await t.rejects(tlsGet({ port, ca: caPem }), 'no client certificate: refused at the handshake')
  await t.rejects(tlsGet({ port, ca: caPem, cert: readFileSync(stranger.cert), key: readFileSync(stranger.key) }), 'a certificate from another CA: refused')
  const ok = await tlsGet({ port, ca: caPem, cert: readFileSync(trusted.cert), key: readFileSync(trusted.key) })
  t.equal(ok.status, 200)
  t.same(JSON.parse(ok.body), { status: 'UP' })
  await new Promise((r) => setTimeout(r, 200))
  t.ok(server.logs().some((l) => l.msg === 'TLS handshake refused'), 'refusals are logged at debug level')
  t.notOk(server.logs().some((l) => isRequestLine(l) && l.status !== 200), 'no refused client reached the HTTP layer')
  server.child.kill('SIGTERM')
  await server.exited
})
