// The real server process: start-up from defaults and env, TLS, graceful shutdown.

import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { type AddressInfo, connect } from 'node:net'
import { join } from 'node:path'
import { basic, isRequestLine, requireProgram, startServer, tempDir } from '../helpers.js'

t.test('starts on built-in defaults, prints the admin password once, REGISTRY_HTTP_ADDR moves it', async (t) => {
  const cwd = tempDir(t)
  const server = await startServer(t, [], { REGISTRY_HTTP_ADDR: '127.0.0.1:0' }, cwd)
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  const listening = server.logs().filter((l) => /listening/i.test(String(l.msg)))
  t.same(
    listening.map((l) => [l.level, l.msg, l.address]),
    [['info', `listening on ${server.url}`, server.url]],
    'the address is logged once, as bound (not once per interface by Fastify too)',
  )
  const health = await fetch(`${server.url}/health`)
  t.equal(health.status, 200)
  t.same(await health.json(), { status: 'UP' })
  const created = server.logs().find((l) => String(l.msg).startsWith('created data/htpasswd with user "admin"'))
  t.ok(created, 'the log shows the generated password')
  const password = readFileSync(join(cwd, 'data', 'initial-admin-password'), 'utf8').trim()
  t.match(String(created?.msg), password)
  const ok = await fetch(`${server.url}/v1/`, { headers: { authorization: basic('admin', password) } })
  t.equal(ok.status, 200)
  t.same(await ok.json(), { user: 'admin', canPush: true })
  const bad = await fetch(`${server.url}/v1/`, { headers: { authorization: basic('admin', 'wrong') } })
  t.equal(bad.status, 401)
  t.equal(bad.headers.get('www-authenticate'), 'Basic realm="basic-realm"')
  await new Promise((r) => setTimeout(r, 200)) // the line is written just after the response
  const requestLine = server.logs().find((l) => isRequestLine(l) && l.status === 401)
  t.ok(requestLine, 'one JSON log line per request')
  t.equal(requestLine?.route, '/v1')
  t.notMatch(server.stdout(), /Basic [A-Za-z0-9+/=]{8,}/, 'no Authorization header in the logs')
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)

  const again = await startServer(t, [], { REGISTRY_HTTP_ADDR: '127.0.0.1:0' }, cwd)
  t.notOk(again.logs().find((l) => String(l.msg).startsWith('created')), 'printed only the first time')
  again.child.kill('SIGTERM')
  await again.exited
})

t.test("a config file without an auth section (the README's S3 example had none) keeps users, as no config does", async (t) => {
  const cwd = tempDir(t)
  const config = join(cwd, 'config.yml')
  writeFileSync(config, `storage:\n  filesystem:\n    rootdirectory: ${join(cwd, 'data')}\nhttp:\n  addr: 127.0.0.1:0\n`)
  const server = await startServer(t, [config], {}, cwd)
  t.ok(server.logs().find((l) => String(l.msg).startsWith(`created ${join(cwd, 'data', 'htpasswd')} with user "admin"`)), 'admin created in the data directory')
  t.notOk(server.logs().find((l) => /AUTHENTICATION IS OFF/.test(String(l.msg))))
  t.equal((await fetch(`${server.url}/v1/`, { headers: { authorization: basic('anyone', 'anything') } })).status, 401, 'a made-up login is refused')
  const password = readFileSync(join(cwd, 'data', 'initial-admin-password'), 'utf8').trim()
  t.equal((await fetch(`${server.url}/v1/`, { headers: { authorization: basic('admin', password) } })).status, 200)
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)

  writeFileSync(config, `storage:\n  filesystem:\n    rootdirectory: ${join(cwd, 'open')}\nhttp:\n  addr: 127.0.0.1:0\nauth: none\n`)
  const open = await startServer(t, [config], {}, cwd)
  t.match(open.logs().find((l) => /AUTHENTICATION IS OFF/.test(String(l.msg))), { level: 'warn', msg: /auth: none, or REGISTRY_AUTH=none/ }, 'asked for by name, announced (a warning on loopback)')
  t.same(await (await fetch(`${open.url}/v1/`)).json(), { user: 'anonymous', canPush: true })
  open.child.kill('SIGTERM')
  await open.exited
})

t.test('metrics.addr: /metrics on a listener of its own, without credentials', async (t) => {
  const cwd = tempDir(t)
  const server = await startServer(t, [], { REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_METRICS_ADDR: '127.0.0.1:0' }, cwd)
  const line = server.logs().find((l) => String(l.msg).startsWith('serving metrics on '))
  t.match(line?.address, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
  const metricsUrl = String(line?.address)
  t.not(new URL(metricsUrl).port, new URL(server.url).port)
  t.equal((await fetch(`${server.url}/health`)).status, 200)
  const scrape = await fetch(metricsUrl)
  t.equal(scrape.status, 200)
  t.match(scrape.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const text = await scrape.text()
  t.match(text, /^packyard_http_requests_total\{method="GET",route="\/health",status="200"\} 1$/m)
  t.match(text, /^process_resident_memory_bytes \d+/m)
  t.equal((await fetch(metricsUrl.replace(/\/metrics$/, '/v1/'))).status, 404, 'nothing else is served there')
  t.equal((await fetch(`${server.url}/metrics`)).status, 404, 'the API address does not serve it')
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
})

t.test('a bad config stops start-up with a message naming the key', async (t) => {
  const cwd = tempDir(t)
  const p = await import('../helpers.js').then((h) => h.runBin(['serve'], { cwd, env: { REGISTRY_LOG_LEVEL: 'chatty' } }))
  t.equal(p.code, 1)
  t.match(p.stderr, /Error: config: log\.level: must be one of/)
})

t.test('a taken port stops start-up naming the address and REGISTRY_HTTP_ADDR', async (t) => {
  const cwd = tempDir(t)
  const { createServer } = await import('node:net')
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => taken.close())
  const addr = `127.0.0.1:${(taken.address() as AddressInfo).port}`
  const p = await import('../helpers.js').then((h) => h.runBin(['serve'], { cwd, env: { REGISTRY_HTTP_ADDR: addr } }))
  t.equal(p.code, 1)
  t.match(p.stderr, `Error: http.addr: cannot listen on ${addr}: the address is in use (another server?); choose another address with REGISTRY_HTTP_ADDR`)
})

t.test('SIGTERM lets an in-flight request finish before exiting', async (t) => {
  const cwd = tempDir(t)
  const server = await startServer(t, [], { REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_AUTH: 'none' }, cwd)
  // A slow request: the body trickles in, so the request is in flight when SIGTERM arrives.
  const { request } = await import('node:http')
  const url = new URL(`${server.url}/v1/`)
  const status = new Promise<number>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: '/v1/', method: 'GET', headers: { 'content-type': 'application/json', 'content-length': '2' } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.write('{')
    setTimeout(() => {
      server.child.kill('SIGTERM')
      setTimeout(() => req.end('}'), 300)
    }, 200)
  })
  t.equal(await status, 200, 'the in-flight request completed')
  t.equal(await server.exited, 0)
  t.ok(server.logs().some((l) => String(l.msg).startsWith('shutting down')))
})

t.test('TLS with a self-signed certificate made by openssl', async (t) => {
  requireProgram('openssl')
  const dir = tempDir(t)
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'pipe' })
  const server = await startServer(t, [], { REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_HTTP_TLS_CERTIFICATE: cert, REGISTRY_HTTP_TLS_KEY: key, REGISTRY_HTTP_TLS_MINIMUMTLS: 'tls1.3' }, dir)
  t.match(server.url, /^https:/)
  const url = new URL(`${server.url}/health`)
  const get = (options: object) =>
    new Promise<{ status: number; body: string; protocol: string }>((resolve, reject) => {
      const req = httpsRequest({ host: url.hostname, port: url.port, path: url.pathname, ca: readFileSync(cert), ...options }, (res) => {
        let body = ''
        const protocol = (res.socket as import('node:tls').TLSSocket).getProtocol() ?? ''
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, protocol }))
      })
      req.on('error', reject)
      req.end()
    })
  const res = await get({})
  t.equal(res.status, 200)
  t.same(JSON.parse(res.body), { status: 'UP' })
  t.equal(res.protocol, 'TLSv1.3')
  await t.rejects(get({ maxVersion: 'TLSv1.2' }), 'TLS 1.2 refused when minimumtls is tls1.3')
  await t.rejects(get({ ca: undefined }), /self.signed/, 'untrusted without the CA')

  // Plain HTTP to the TLS port: distribution's (Go's) 400, in plain HTTP, then the connection closes.
  for (const method of ['GET', 'HEAD', 'POST', 'PUT']) {
    const plain = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => socket.write(`${method} /v2/ HTTP/1.1\r\nHost: localhost\r\n\r\n`))
      let got = ''
      socket.on('data', (d) => (got += d))
      socket.on('close', () => resolve(got))
      socket.on('error', reject)
    })
    t.equal(plain, 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n', `${method} over plain HTTP`)
  }
  t.equal((await get({})).status, 200, 'still serving HTTPS')
  server.child.kill('SIGTERM')
  await server.exited
})
