import t from 'tap'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, copyFileSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import type { Io } from '../../src/cli/command.js'
import { ApiError, RegistryClient } from '../../src/cli/http-client.js'
import { followedLink } from '../../src/pages.js'
import { requireProgram, tempDir } from '../helpers.js'

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void

function io(): Io & { err: () => string } {
  const stderr = new PassThrough()
  let err = ''
  stderr.on('data', (d: Buffer) => (err += d.toString()))
  return { stdout: new PassThrough(), stderr, stdin: Readable.from([]), env: {}, err: () => err }
}

async function listen(t: { teardown(fn: () => void | Promise<void>): void }, server: Server, handler: Handler): Promise<string> {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => handler(req, res, Buffer.concat(chunks)))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  return `127.0.0.1:${(server.address() as AddressInfo).port}`
}

function client(server: string, opts: { insecure?: boolean; home?: string; certDirs?: string[] } = {}) {
  return new RegistryClient(
    { server, insecure: opts.insecure ?? true, auth: Buffer.from('admin:pw').toString('base64'), user: 'admin' },
    { home: opts.home ?? '/nonexistent-home', io: io(), certDirs: opts.certDirs ?? [] },
  )
}

function envelope(res: ServerResponse, status: number, code: string, message: string, detail?: object) {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ errors: [{ code, message, ...(detail ? { detail } : {}) }] }))
}

t.test('insecure + plain HTTP server: JSON calls, Basic auth, error envelopes', async (t) => {
  const seen: Array<{ method?: string; url?: string; auth?: string; body: string }> = []
  const server = await listen(t, createHttpServer(), (req, res, body) => {
    seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body: body.toString() })
    if (req.url === '/v1/') return res.end('{}')
    if (req.url === '/v1/conflict') return envelope(res, 409, 'TAG_EXISTS', 'tag 1.0.0 exists', { digest: 'sha256:x' })
    if (req.url === '/v1/unauth') return envelope(res, 401, 'UNAUTHORIZED', 'bad credentials')
    if (req.url === '/v1/slow-down') {
      res.setHeader('retry-after', '30')
      return envelope(res, 429, 'TOO_MANY_REQUESTS', 'too many failed logins')
    }
    if (req.url === '/v1/proxy') {
      res.writeHead(502, { 'content-type': 'text/html' })
      return res.end('<html>Bad gateway</html>\nmore')
    }
    if (req.url === '/v1/notjson') return res.end('hello')
    if (req.url === '/v1/moved') {
      res.writeHead(301, { location: 'https://elsewhere/v1/' })
      return res.end()
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ echo: JSON.parse(body.toString() || 'null') }))
  })
  const c = client(server)
  t.same((await c.json('GET', '/v1/')).body, {})
  t.same((await c.json('PUT', '/v1/echo', { ref: '1.0.0' })).body, { echo: { ref: '1.0.0' } })
  t.equal(seen[0]?.auth, `Basic ${Buffer.from('admin:pw').toString('base64')}`)
  t.equal(seen[1]?.method, 'PUT')

  const conflict = await c.json('GET', '/v1/conflict').catch((e: unknown) => e)
  t.ok(conflict instanceof ApiError)
  t.match(conflict, { status: 409, code: 'TAG_EXISTS', reason: 'tag 1.0.0 exists', message: 'tag 1.0.0 exists', detail: { digest: 'sha256:x' } })
  await t.rejects(c.json('GET', '/v1/unauth'), {
    status: 401,
    reason: 'bad credentials',
    message: `${server} refused the credentials of user "admin": bad credentials; log in again with: packyard registry login ${server}`,
  })
  await t.rejects(c.json('GET', '/v1/slow-down'), { message: 'too many failed logins (retry after 30 seconds)' })
  await t.rejects(c.json('GET', '/v1/proxy'), { status: 502, message: `${server} answered 502 Bad Gateway: <html>Bad gateway</html>` })
  await t.rejects(c.json('GET', '/v1/notjson'), { message: `${server} sent an answer that is not JSON (status 200); is it a packyard registry?` })
  await t.rejects(c.json('GET', '/v1/moved'), { message: `${server} redirects GET /v1/moved to https://elsewhere/v1/; use the registry's own address` })
})

t.test('multipart upload: fields before the file, exact framing, digest enforced', async (t) => {
  let received: { type?: string; length?: string; body: Buffer } | undefined
  const server = await listen(t, createHttpServer(), (req, res, body) => {
    received = { type: req.headers['content-type'], length: req.headers['content-length'], body }
    res.writeHead(201, { 'content-type': 'application/json' })
    res.end('{"status":"created"}')
  })
  const payload = Buffer.from('\x1f\x8bnot really gzip but bytes\r\n--boundary-looking\r\n')
  const digest = `sha256:${createHash('sha256').update(payload).digest('hex')}`
  const file = { field: 'archive', filename: 'hello-1.0.0.tar.gz', contentType: 'application/gzip', size: payload.length, digest, open: () => Readable.from([payload.subarray(0, 5), payload.subarray(5)]) }
  const res = await client(server).upload('/v1/_packs', [['force', 'true'], ['message', 'multi\nline “msg”']], file)
  t.same(res, { status: 201, body: { status: 'created' } })
  const boundary = /boundary=(.+)$/.exec(received?.type ?? '')?.[1] as string
  t.ok(boundary, 'multipart/form-data with a boundary')
  t.equal(Number(received?.length), received?.body.length, 'Content-Length is exact')
  const expected = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="force"\r\n\r\ntrue\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="message"\r\n\r\nmulti\nline “msg”\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="archive"; filename="hello-1.0.0.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n`,
    ),
    payload,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ])
  t.ok(received?.body.equals(expected), 'the body is the fields, then the file, then the closing boundary')

  received = undefined
  await t.rejects(client(server).upload('/v1/_packs', [], { ...file, open: () => Readable.from([Buffer.from(payload).fill(0x41, 10, 11)]) }), {
    message: /hello-1\.0\.0\.tar\.gz changed while it was being uploaded/,
  })
  t.equal(received, undefined, 'the server never saw a complete request')
})

t.test('network failures name the server and what to check', async (t) => {
  const closed = createHttpServer()
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
  const port = (closed.address() as AddressInfo).port
  await new Promise<void>((r) => closed.close(() => r()))
  await t.rejects(client(`127.0.0.1:${port}`, { insecure: false }).json('GET', '/v1/'), {
    message: `cannot connect to 127.0.0.1:${port} (https://127.0.0.1:${port}/v1/): connection refused; check the host and port, and that the registry is running`,
  })
  await t.rejects(client(`127.0.0.1:${port}`, { insecure: true }).json('GET', '/v1/'), { message: /connection refused/ })
  await t.rejects(client('no-such-host.invalid:5000', { insecure: false }).json('GET', '/v1/'), { message: /cannot resolve the host of no-such-host\.invalid:5000/ })

  const plain = await listen(t, createHttpServer(), (_req, res) => res.end('{}'))
  await t.rejects(client(plain, { insecure: false }).json('GET', '/v1/'), {
    message: `${plain} does not speak HTTPS on this port (the TLS handshake got a non-TLS answer); if it serves plain HTTP, log in with: packyard registry login ${plain} --insecure`,
  })
})

t.test('HTTPS: untrusted unless insecure or its CA is in certs.d', async (t) => {
  requireProgram('openssl')
  const dir = tempDir(t)
  const key = join(dir, 'key.pem')
  const cert = join(dir, 'cert.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'pipe' })
  let schemeSeen = ''
  const server = await listen(t, createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }), (req, res) => {
    schemeSeen = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http'
    res.end('{"ok":true}')
  })
  const home = join(dir, 'home')
  await t.rejects(client(server, { insecure: false, home, certDirs: [join(home, 'certs.d')] }).json('GET', '/v1/'), {
    message: `the TLS certificate of ${server} is not trusted (self-signed certificate); add the registry's CA certificate to the system's store (update-ca-certificates, or SSL_CERT_FILE), or put it in /etc/spectro/certs.d/${server}/ca.crt or ${home}/certs.d/${server}/ca.crt (any .crt file name), or log in with --insecure`,
  })
  t.same((await client(server, { insecure: true }).json('GET', '/v1/')).body, { ok: true }, 'insecure: HTTPS without verification')
  t.equal(schemeSeen, 'https', 'insecure prefers HTTPS when the server speaks it')

  mkdirSync(join(home, 'certs.d', server), { recursive: true })
  copyFileSync(cert, join(home, 'certs.d', server, 'ca.crt'))
  t.same((await client(server, { insecure: false, home, certDirs: [join(home, 'certs.d')] }).json('GET', '/v1/')).body, { ok: true }, 'trusted through <home>/certs.d/<server>/ca.crt')

  // Spectro's documented "doesn't contain any IP SANs" case: trusted, but not for this address.
  const key2 = join(dir, 'key2.pem')
  const cert2 = join(dir, 'cert2.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key2, '-out', cert2, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'pipe' })
  const named = await listen(t, createHttpsServer({ key: readFileSync(key2), cert: readFileSync(cert2) }), (_req, res) => res.end('{}'))
  mkdirSync(join(home, 'certs.d', named), { recursive: true })
  copyFileSync(cert2, join(home, 'certs.d', named, 'ca.crt'))
  await t.rejects(client(named, { insecure: false, home, certDirs: [join(home, 'certs.d')] }).json('GET', '/v1/'), {
    message: new RegExp(`^the TLS certificate of ${named} is not valid for this address \\(.*IP: 127\\.0\\.0\\.1 is not in the cert's list.*\\); use the name the certificate was issued for, or log in with --insecure$`),
  })
})

t.test('followedLink (src/pages.ts, as the client pages) reads rel="next" paths only', async (t) => {
  t.equal(followedLink('</v1/_packs?n=2&last=b>; rel="next"'), '/v1/_packs?n=2&last=b')
  t.equal(followedLink(['</a>; rel="prev"', '</v1/x?last=c>; rel=next']), '/v1/x?last=c')
  t.equal(followedLink('<https://evil.example/v1/x>; rel="next"'), null, 'never another host')
  t.equal(followedLink('<//evil.example/v1/x>; rel="next"'), null, 'nor a scheme-relative link to one')
  t.equal(followedLink('</\\evil.example/v1/x>; rel="next"'), null, 'nor a backslash that URL parsing reads as //')
  t.equal(followedLink('<http://up.example:5000/v2/_catalog?last=a>; rel="next"', 'http://up.example:5000'), '/v2/_catalog?last=a', 'an absolute link to the same origin')
  t.equal(followedLink('<http://up.example:5001/v2/_catalog>; rel="next"', 'http://up.example:5000'), null, 'but not to another port')
  t.equal(followedLink(undefined), null)
  t.equal(followedLink('garbage'), null)
})
