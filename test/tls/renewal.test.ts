// Renewal against pebble issuing 15-second certificates (renewed with a third of their life
// left): the new certificate is served to new connections while a keep-alive connection opened
// before the renewal keeps working, and the cache holds the new certificate.

import t from 'tap'
import { readFileSync } from 'node:fs'
import https from 'node:https'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { startServer, tempDir } from '../helpers.js'
import { startPebble, tlsGet } from './helpers.js'

t.test('a renewal is swapped in without dropping an open connection', async (t) => {
  const pebble = await startPebble(t, { validitySeconds: 15 })
  await pebble.addHost('renew.test')
  const root = await pebble.root()
  const dir = tempDir(t)
  const cachefile = join(dir, 'cache.json')
  const server = await startServer(
    t,
    [],
    {
      REGISTRY_AUTH: 'none',
      REGISTRY_STORAGE: 'inmemory',
      REGISTRY_HTTP_ADDR: `127.0.0.1:${pebble.tlsPort}`,
      REGISTRY_HTTP_TLS_LETSENCRYPT_CACHEFILE: cachefile,
      REGISTRY_HTTP_TLS_LETSENCRYPT_HOSTS: 'renew.test',
      REGISTRY_HTTP_TLS_LETSENCRYPT_DIRECTORYURL: pebble.directoryUrl,
      NODE_EXTRA_CA_CERTS: pebble.caFile,
    },
    dir,
  )
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  const first = await tlsGet({ port: pebble.tlsPort, servername: 'renew.test', ca: root, agent })
  t.equal(first.status, 200)

  const obtained = () => server.logs().filter((l) => l.msg === 'obtained a certificate over ACME')
  const deadline = Date.now() + 20_000
  while (obtained().length < 2) {
    if (Date.now() > deadline) throw new Error(`no renewal:\n${server.stdout()}`)
    await new Promise((r) => setTimeout(r, 200))
  }
  t.ok(server.logs().some((l) => l.msg === 'renewing the certificate over ACME'))

  const sameConnection = await tlsGet({ port: pebble.tlsPort, servername: 'renew.test', ca: root, agent })
  t.equal(sameConnection.status, 200, 'the keep-alive connection still answers')
  t.ok(sameConnection.reusedSocket, 'over the connection opened before the renewal')
  t.equal(sameConnection.localPort, first.localPort)
  t.equal(sameConnection.certificate.fingerprint256, first.certificate.fingerprint256, 'which keeps the certificate it began with')

  const fresh = await tlsGet({ port: pebble.tlsPort, servername: 'renew.test', ca: root })
  t.equal(fresh.status, 200)
  t.not(fresh.certificate.fingerprint256, first.certificate.fingerprint256, 'a new connection gets the renewed certificate')
  const cached = JSON.parse(readFileSync(cachefile, 'utf8')) as { certificate: { chain: string } }
  t.equal(new X509Certificate(cached.certificate.chain).fingerprint256, fresh.certificate.fingerprint256, 'the cache holds the renewed certificate')
  t.equal(server.logs().filter((l) => l.level === 'error').length, 0, 'no errors logged')
  server.child.kill('SIGTERM')
  await server.exited
})
