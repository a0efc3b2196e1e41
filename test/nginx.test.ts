// The nginx test harness (test/nginx.ts, with the repo's deploy/nginx-proxy.conf) in front of two
// plain Node HTTP servers: requests alternate between them with the client's Host kept, a large
// upload streams through without being buffered, and a file in the accel directory is served by
// nginx on X-Accel-Redirect (ranges too) but never to a client asking for it directly.

import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { type IncomingMessage, request, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { ACCEL_PREFIX, PROXY_SETTINGS, startNginx } from './nginx.js'
import { type Teardown, tempDir } from './system.js'

interface Upstream {
  address: string
  requests: string[]
}

/** A Node HTTP server on a loopback port that hands every request to `handle`, closed at teardown. */
async function upstream(t: Teardown, handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  const requests: string[] = []
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`)
    handle(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests }
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, { headers })
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
}

t.test('requests alternate between the upstreams, with the Host the client sent', async (t) => {
  const named = (name: string) => (req: IncomingMessage, res: ServerResponse) => res.end(JSON.stringify({ name, host: req.headers.host }))
  const a = await upstream(t, named('a'))
  const b = await upstream(t, named('b'))
  const nginx = await startNginx(t, [a.address, b.address])
  const answers: Array<{ name: string; host: string }> = []
  for (let i = 0; i < 6; i++) answers.push(JSON.parse((await get(`${nginx.url}/v2/`)).body.toString()))
  const names = answers.map((answer) => answer.name)
  t.same(names.slice(2), names.slice(0, 4), 'a repeating pair')
  t.not(names[0], names[1], 'of the two upstreams')
  t.same(new Set(answers.map((answer) => answer.host)), new Set([`127.0.0.1:${nginx.port}`]))
  t.ok(readFileSync(join(nginx.dir, 'nginx.conf'), 'utf8').includes(`include ${PROXY_SETTINGS};`), "the proxy settings are the repo's deploy/nginx-proxy.conf")
})

t.test('a 64 MiB upload streams through to the upstream, unbuffered and unchanged', async (t) => {
  const size = 64 * 1024 * 1024
  let firstBytes: () => void = () => {}
  const arrived = new Promise<void>((resolve) => (firstBytes = resolve))
  const sink = await upstream(t, (req, res) => {
    const hash = createHash('sha256')
    let length = 0
    req.on('data', (chunk: Buffer) => {
      if (length === 0) firstBytes()
      length += chunk.length
      hash.update(chunk)
    })
    req.on('end', () => res.end(JSON.stringify({ length, digest: hash.digest('hex'), chunked: req.headers['transfer-encoding'] === 'chunked' })))
  })
  const nginx = await startNginx(t, [sink.address])
  const chunk = randomBytes(1024 * 1024)
  const expected = createHash('sha256')
  const answer = new Promise<string>((resolve, reject) => {
    const req = request(`${nginx.url}/upload`, { method: 'PUT' }, (res) => {
      let body = ''
      res.on('data', (data: Buffer) => (body += data.toString()))
      res.on('end', () => resolve(body))
    })
    req.on('error', reject)
    const send = async () => {
      req.write(chunk)
      expected.update(chunk)
      // The upstream sees the upload begin before the client has sent the rest: nginx streams it.
      const timeout = setTimeout(() => reject(new Error('the upstream saw nothing of the upload before it was all sent')), 20_000)
      await arrived
      clearTimeout(timeout)
      for (let sent = chunk.length; sent < size; sent += chunk.length) {
        if (!req.write(chunk)) await new Promise((resolve) => req.once('drain', resolve))
        expected.update(chunk)
      }
      req.end()
    }
    send().catch(reject)
  })
  t.same(JSON.parse(await answer), { length: size, digest: expected.digest('hex'), chunked: true })
})

t.test('X-Accel-Redirect has nginx serve a file of the accel directory; the directory is not public', async (t) => {
  const accel = tempDir(t)
  const content = randomBytes(256 * 1024)
  const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`
  mkdirSync(join(accel, 'blobs'))
  writeFileSync(join(accel, 'blobs', 'one'), content)
  const app = await upstream(t, (_req, res) => {
    res.writeHead(200, {
      'X-Accel-Redirect': `${ACCEL_PREFIX}blobs/one`,
      'Content-Type': 'application/octet-stream',
      'Docker-Content-Digest': digest,
    })
    res.end()
  })
  const nginx = await startNginx(t, [app.address], { accel })

  const whole = await get(`${nginx.url}/v2/hello/blobs/${digest}`)
  t.equal(whole.status, 200)
  t.ok(whole.body.equals(content), 'the file, byte for byte')
  t.equal(whole.headers.get('content-length'), String(content.length))
  t.equal(whole.headers.get('content-type'), 'application/octet-stream')
  t.equal(whole.headers.get('docker-content-digest'), digest, "the digest header is passed on")
  t.notOk(whole.headers.get('x-accel-redirect'), 'the redirect itself is not shown')

  const part = await get(`${nginx.url}/v2/hello/blobs/${digest}`, { Range: 'bytes=100-199' })
  t.equal(part.status, 206)
  t.ok(part.body.equals(content.subarray(100, 200)), 'a range of it')

  const direct = await get(`${nginx.url}${ACCEL_PREFIX}blobs/one`)
  t.equal(direct.status, 404, 'asked for directly')
  t.same(app.requests, [`GET /v2/hello/blobs/${digest}`, `GET /v2/hello/blobs/${digest}`])
})
