// http.tls.letsencrypt against a real ACME server (pebble, validating for real): issuance over
// TLS-ALPN-01 on the TLS listener and over HTTP-01 on httpaddr, verification against pebble's
// issuing CA, names outside `hosts` refused at the handshake, the cache reused across a restart
// without a new order, and a challenge that cannot succeed stopping start-up with the ACME
// problem named.

import t from 'tap'
import { statSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { runBin, startServer, tempDir } from '../helpers.js'
import { startPebble, tlsGet } from './helpers.js'

function env(pebble: { directoryUrl: string; caFile: string; tlsPort: number }, cachefile: string, hosts: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    REGISTRY_AUTH: 'none',
    REGISTRY_STORAGE: 'inmemory',
    REGISTRY_HTTP_ADDR: `127.0.0.1:${pebble.tlsPort}`,
    REGISTRY_HTTP_TLS_LETSENCRYPT_CACHEFILE: cachefile,
    REGISTRY_HTTP_TLS_LETSENCRYPT_HOSTS: hosts,
    REGISTRY_HTTP_TLS_LETSENCRYPT_EMAIL: 'ops@example.com',
    REGISTRY_HTTP_TLS_LETSENCRYPT_DIRECTORYURL: pebble.directoryUrl,
    // Trusts pebble's own HTTPS certificate, as an operator would trust a private ACME server's.
    NODE_EXTRA_CA_CERTS: pebble.caFile,
    ...extra,
  }
}

function plainGet(port: number, path: string, host: string): Promise<{ status: number; location: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }))
    })
      .on('error', reject)
      .end()
  })
}

t.test('Let\'s Encrypt against pebble', async (t) => {
  const pebble = await startPebble(t)
  const root = await pebble.root()

  t.test('TLS-ALPN-01 on the TLS listener; other names refused; a restart reuses the certificate', async (t) => {
    await pebble.addHost('registry.test')
    const dir = tempDir(t)
    const cachefile = join(dir, 'letsencrypt', 'cache.json')
    const vars = env(pebble, cachefile, 'registry.test')
    const server = await startServer(t, [], vars, dir)
    t.ok(server.logs().some((l) => l.msg === 'answered an ACME challenge' && l.challenge === 'tls-alpn-01' && l.host === 'registry.test'), 'pebble validated over TLS-ALPN-01')
    t.ok(server.logs().some((l) => String(l.msg).startsWith('obtaining a certificate over ACME; start-up waits')), 'start-up said it was waiting')
    t.equal(pebble.orders(), 1)

    const res = await tlsGet({ port: pebble.tlsPort, servername: 'registry.test', ca: root })
    t.equal(res.status, 200, 'verified against pebble\'s issuing root')
    t.same(JSON.parse(res.body), { status: 'UP' })
    t.equal(res.certificate.subjectaltname, 'DNS:registry.test')
    await t.rejects(tlsGet({ port: pebble.tlsPort, servername: 'elsewhere.test', ca: root }), 'a name outside hosts is refused at the handshake')
    await t.rejects(tlsGet({ port: pebble.tlsPort, servername: 'registry.test' }), /unable to get local issuer certificate/, 'not trusted without pebble\'s root')
    t.equal(statSync(cachefile).mode & 0o777, 0o600, 'the cache holds private keys: mode 0600')

    server.child.kill('SIGTERM')
    t.equal(await server.exited, 0)
    const again = await startServer(t, [], vars, dir)
    t.ok(again.logs().some((l) => l.msg === 'serving the certificate from http.tls.letsencrypt.cachefile'))
    t.equal(pebble.orders(), 1, 'no new order after the restart')
    const after = await tlsGet({ port: pebble.tlsPort, servername: 'registry.test', ca: root })
    t.equal(after.certificate.fingerprint256, res.certificate.fingerprint256, 'the same certificate')
    again.child.kill('SIGTERM')
    await again.exited
  })

  t.test('HTTP-01 on httpaddr, which redirects everything else to HTTPS', async (t) => {
    await pebble.addHost('web.test')
    const dir = tempDir(t)
    const ordersBefore = pebble.orders()
    const server = await startServer(t, [], env(pebble, join(dir, 'cache.json'), 'web.test', { REGISTRY_HTTP_TLS_LETSENCRYPT_HTTPADDR: `127.0.0.1:${pebble.httpPort}` }), dir)
    t.ok(server.logs().some((l) => l.msg === 'answered an ACME challenge' && l.challenge === 'http-01'), 'pebble validated over HTTP-01')
    t.notOk(server.logs().some((l) => l.msg === 'answered an ACME challenge' && l.challenge === 'tls-alpn-01'))
    t.match(pebble.output(), /Attempting to validate w\/ HTTP: http:\/\/web\.test:\d+\/\.well-known\/acme-challenge\//)
    t.equal(pebble.orders(), ordersBefore + 1)

    const res = await tlsGet({ port: pebble.tlsPort, servername: 'web.test', ca: root })
    t.equal(res.status, 200)
    t.equal(res.certificate.subjectaltname, 'DNS:web.test')

    const redirect = await plainGet(pebble.httpPort, '/v1/_catalog?n=1', `web.test:${pebble.httpPort}`)
    t.equal(redirect.status, 308)
    t.equal(redirect.location, 'https://web.test/v1/_catalog?n=1')
    const elsewhere = await plainGet(pebble.httpPort, '/', 'attacker.example')
    t.equal(elsewhere.location, 'https://web.test/', 'only hosts are redirected to')
    const token = await plainGet(pebble.httpPort, '/.well-known/acme-challenge/not-a-pending-token', 'web.test')
    t.equal(token.status, 404)
    server.child.kill('SIGTERM')
    await server.exited
  })

  t.test('a challenge that cannot succeed stops start-up with the ACME problem', async (t) => {
    await pebble.addHost('moved.test', '127.0.0.2')
    const cases: Array<[string, RegExp]> = [
      // Pebble's problem types (Let's Encrypt says dns and connection for these).
      ['nowhere.test', /: urn:ietf:params:acme:error:malformed: Could not resolve URL "nowhere\.test"\n$/],
      ['moved.test', /: urn:ietf:params:acme:error:unauthorized: Failed to connect to 127\.0\.0\.2:\d+ for the tls-alpn-01 challenge\n$/],
    ]
    for (const [host, problem] of cases) {
      const dir = tempDir(t)
      const result = await runBin(['serve'], { cwd: dir, env: env(pebble, join(dir, 'cache.json'), host, { REGISTRY_HTTP_TLS_LETSENCRYPT_STARTTIMEOUT: '2s' }) })
      t.equal(result.code, 1, `${host}: start-up fails`)
      t.match(result.stderr, new RegExp(`^Error: http\\.tls\\.letsencrypt: no certificate for ${host.replace('.', '\\.')} from ${pebble.directoryUrl.replace(/[.]/g, '\\.')} within 2s \\(http\\.tls\\.letsencrypt\\.starttimeout\\): `))
      t.match(result.stderr, problem, `${host}: the ACME problem type and detail`)
      const failed = result.stdout.split('\n').filter((l) => l.includes('"ACME order failed'))
      t.ok(failed.length >= 1, `${host}: the failure is logged`)
      t.match(JSON.parse(failed[0] as string), { level: 'warn', acmeProblem: /^urn:ietf:params:acme:error:/, hosts: [host] })
    }
  })
})
