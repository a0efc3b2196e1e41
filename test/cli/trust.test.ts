// Which CAs the client trusts, against real TLS servers with certificates made by openssl: the
// system store as Go clients read it (SSL_CERT_FILE, SSL_CERT_DIR), certs.d with any .crt name,
// Node's bundled roots kept, and the warning about certificates without a subjectAltName.

import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { rootCertificates } from 'node:tls'
import { RegistryClient } from '../../src/cli/http-client.js'
import { certsDFiles, trustedCertificates } from '../../src/cli/trust.js'
import { systemCertificates } from '../../src/system-certificates.js'
import { captureStream, requireProgram, tempDir } from '../helpers.js'

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

/** A CA, and leaf certificates it signs: with the given subjectAltName, or none at all. */
function makeCa(dir: string) {
  requireProgram('openssl')
  const ca = { key: join(dir, 'ca.key'), cert: join(dir, 'ca.pem') }
  execFileSync('openssl', ['req', '-x509', ...EC, '-keyout', ca.key, '-out', ca.cert, '-days', '1', '-subj', '/CN=Packyard Test CA'], { stdio: 'pipe' })
  const leaf = (name: string, subjectAltName: string | null) => {
    const key = join(dir, `${name}.key`)
    const csr = join(dir, `${name}.csr`)
    const cert = join(dir, `${name}.crt`)
    execFileSync('openssl', ['req', ...EC, '-keyout', key, '-out', csr, '-subj', '/CN=localhost'], { stdio: 'pipe' })
    const ext = join(dir, `${name}.ext`)
    writeFileSync(ext, subjectAltName ? `subjectAltName=${subjectAltName}\n` : 'basicConstraints=CA:FALSE\n')
    execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '1', '-extfile', ext], { stdio: 'pipe' })
    return { key: readFileSync(key), cert: readFileSync(cert) }
  }
  return { ...ca, pem: readFileSync(ca.cert, 'utf8'), leaf }
}

async function tlsServer(t: { teardown(fn: () => Promise<void>): void }, leaf: { key: Buffer; cert: Buffer }): Promise<number> {
  const server = createServer(leaf, (_req, res) => res.end('{"user":"admin","canPush":true}'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as AddressInfo).port
}

function client(server: string, env: NodeJS.ProcessEnv, certDirs: string[] = [], insecure = false) {
  const stderr = captureStream()
  const c = new RegistryClient(
    { server, insecure, auth: Buffer.from('admin:pw').toString('base64'), user: 'admin' },
    { home: '/nonexistent-home', certDirs, io: { stdout: captureStream(), stderr, stdin: Readable.from([]), env } },
  )
  return Object.assign(c, { warnings: () => stderr.text() })
}

t.test('the system store: SSL_CERT_FILE, SSL_CERT_DIR, as Go reads them', async (t) => {
  const dir = tempDir(t)
  const ca = makeCa(dir)
  const port = await tlsServer(t, ca.leaf('server', 'IP:127.0.0.1,DNS:localhost'))
  const server = `127.0.0.1:${port}`
  const nothing = { SSL_CERT_FILE: join(dir, 'no-such-file'), SSL_CERT_DIR: join(dir, 'no-such-dir') }

  await t.rejects(client(server, nothing).json('GET', '/v1/'), { message: /is not trusted \(unable to verify the first certificate\)/ })
  t.same((await client(server, { ...nothing, SSL_CERT_FILE: ca.cert }).json('GET', '/v1/')).body, { user: 'admin', canPush: true }, 'a bundle named by SSL_CERT_FILE')

  const certsDir = join(dir, 'certs')
  mkdirSync(certsDir)
  writeFileSync(join(certsDir, 'packyard-test-ca.pem'), ca.pem)
  t.same((await client(server, { ...nothing, SSL_CERT_DIR: `${join(dir, 'elsewhere')}:${certsDir}` }).json('GET', '/v1/')).body, { user: 'admin', canPush: true }, 'a file in an SSL_CERT_DIR folder')
})

t.test('certs.d/<server>/ takes any .crt file, as Docker does', async (t) => {
  const dir = tempDir(t)
  const ca = makeCa(dir)
  const port = await tlsServer(t, ca.leaf('server', 'IP:127.0.0.1'))
  const server = `127.0.0.1:${port}`
  const nothing = { SSL_CERT_FILE: join(dir, 'no-such-file'), SSL_CERT_DIR: join(dir, 'no-such-dir') }
  const system = join(dir, 'etc-spectro-certs.d')
  const home = join(dir, 'home-certs.d')
  mkdirSync(join(system, server), { recursive: true })
  mkdirSync(join(home, server), { recursive: true })
  writeFileSync(join(home, server, 'client.key'), 'not a CA, and not read')
  await t.rejects(client(server, nothing, [system, home]).json('GET', '/v1/'), { message: /is not trusted/ })

  writeFileSync(join(home, server, 'corporate-root.crt'), ca.pem)
  t.same((await client(server, nothing, [system, home]).json('GET', '/v1/')).body, { user: 'admin', canPush: true })
  t.same(certsDFiles([system, home], server), [join(home, server, 'corporate-root.crt')])

  writeFileSync(join(system, server, 'broken.crt'), 'hello')
  t.throws(() => trustedCertificates(server, [system, home], nothing), {
    message: `${join(system, server, 'broken.crt')} holds no PEM certificate (-----BEGIN CERTIFICATE-----); put the registry's CA certificate there, or remove the file`,
  })
})

t.test("Node's bundled roots stay trusted, each certificate once", async (t) => {
  const dir = tempDir(t)
  const ca = makeCa(dir)
  const bundle = join(dir, 'bundle.pem')
  // A system bundle that repeats one of Node's roots, with other line breaks.
  writeFileSync(bundle, `${ca.pem}\n${(rootCertificates[0] as string).replace(/\n/g, '\r\n')}\n`)
  const trusted = trustedCertificates('example:5000', [], { SSL_CERT_FILE: bundle, SSL_CERT_DIR: join(dir, 'none') })
  for (const root of rootCertificates) t.ok(trusted.includes(root))
  t.equal(trusted.length, rootCertificates.length + 1, 'the repeated root counts once')
  t.ok(trusted.includes(ca.pem.trim()))
})

t.test('SSL_CERT_DIR: links to files in the same folder (hash links) are read once', async (t) => {
  const dir = tempDir(t)
  const ca = makeCa(dir)
  const certsDir = join(dir, 'certs')
  const shared = join(dir, 'share')
  mkdirSync(certsDir)
  mkdirSync(shared)
  writeFileSync(join(shared, 'ca.pem'), ca.pem)
  symlinkSync(join(shared, 'ca.pem'), join(certsDir, 'ca.pem'))
  symlinkSync('ca.pem', join(certsDir, '1a2b3c4d.0'))
  t.same(systemCertificates({ SSL_CERT_FILE: join(dir, 'none'), SSL_CERT_DIR: certsDir }), [ca.pem.trim()])
})

t.test('a certificate without subjectAltName: accepted here, with a warning that Go clients refuse it', async (t) => {
  const dir = tempDir(t)
  const ca = makeCa(dir)
  const legacy = await tlsServer(t, ca.leaf('legacy', null))
  const env = { SSL_CERT_FILE: ca.cert, SSL_CERT_DIR: join(dir, 'none') }
  const named = client(`localhost:${legacy}`, env)
  t.same((await named.json('GET', '/v1/')).body, { user: 'admin', canPush: true })
  await named.json('GET', '/v1/')
  t.equal(
    named.warnings(),
    `Warning: the TLS certificate of localhost:${legacy} has no subjectAltName and names its host only in the legacy Common Name (CN=localhost); ` +
      'Palette and other Go clients will reject it ("x509: certificate relies on legacy Common Name field"). ' +
      'Issue it again with a subjectAltName, e.g. openssl req ... -addext "subjectAltName=DNS:localhost"\n',
    'said once per command',
  )
  const insecure = client(`127.0.0.1:${legacy}`, {}, [], true)
  await insecure.json('GET', '/v1/')
  t.match(insecure.warnings(), /^Warning: the TLS certificate of 127\.0\.0\.1:\d+ has no subjectAltName.*subjectAltName=IP:127\.0\.0\.1"\n$/, 'also with --insecure')

  const modern = await tlsServer(t, ca.leaf('modern', 'DNS:localhost,IP:127.0.0.1'))
  const fine = client(`localhost:${modern}`, env)
  await fine.json('GET', '/v1/')
  t.equal(fine.warnings(), '')
})
