// How sync talks to an upstream: Basic credentials (here from a credentialsfile) to the upstream's
// own host only, a blob download redirected to another host followed without them (as a bucket's
// pre-signed URL would be), a 503 retried, a refusal of the credentials said as such, and the
// distribution token flow (a Bearer challenge answered with a token from the realm); a blob whose
// bytes do not match its digest is refused as it streams in.

import t from 'tap'
import { writeFileSync } from 'node:fs'
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { basic, listeningApp, runCliHere, tempDir, testApp } from '../helpers.js'
import { get, pushPack } from '../pack-fixtures.js'
import type { Teardown } from '../system.js'

const AUTH = basic('mirror', 'mirror-secret')

/** Answers with what the upstream answers to the same request, without credentials. */
function forward(upstream: string, req: IncomingMessage, res: ServerResponse): void {
  const out = request(`http://${upstream}${req.url}`, { method: req.method, headers: { accept: req.headers.accept ?? '*/*' } }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers)
    answer.pipe(res)
  })
  out.on('error', () => res.destroy())
  out.end()
}

async function listen(t: Teardown, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server: Server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as AddressInfo).port
}

t.test('credentials stay with the upstream, redirected blobs are fetched without them, a 503 is retried', async (t) => {
  const upstream = await listeningApp(t, {}, { auth: false })
  await pushPack(upstream.app, { version: '1.0.0' })
  await pushPack(upstream.app, { version: '1.1.0' })

  const elsewhere: Array<string | undefined> = []
  const bucketPort = await listen(t, (req, res) => {
    elsewhere.push(req.headers.authorization)
    forward(upstream.server, req, res)
  })
  let unavailable = 1
  let frontAuth = 0
  const frontPort = await listen(t, (req, res) => {
    if (req.headers.authorization !== AUTH) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="front"' }).end()
      return
    }
    frontAuth++
    if (req.url?.includes('/manifests/1.0.0') && unavailable-- > 0) {
      res.writeHead(503).end()
      return
    }
    // A blob lives in "a bucket" on another host (localhost, not 127.0.0.1: another origin).
    if (req.url?.includes('/blobs/')) {
      res.writeHead(307, { location: `http://localhost:${bucketPort}${req.url}` }).end()
      return
    }
    forward(upstream.server, req, res)
  })

  const dir = tempDir(t)
  const credentials = join(dir, 'credentials.yaml')
  writeFileSync(credentials, stringify({ username: 'mirror', password: 'mirror-secret' }))
  const doc = {
    storage: { filesystem: { rootdirectory: join(dir, 'data') } },
    log: { level: 'silent' },
    sync: { registries: [{ url: `http://127.0.0.1:${frontPort}`, credentialsfile: credentials, retries: 2, retrydelay: '20ms' }] },
  }
  const file = join(dir, 'config.yml')
  writeFileSync(file, stringify({ ...doc, auth: 'none' }))
  const here = await testApp(t, doc, { auth: false })

  const run = await runCliHere(['sync', file, '--once'])
  t.equal(run.code, 0, run.stdout + run.stderr)
  t.match(run.stdout, /copied 2 packs \(\d+ blobs/)
  t.equal(unavailable, -1, 'the 503 was answered once and retried')
  t.ok(frontAuth > 0, 'the upstream got the credentials')
  t.ok(elsewhere.length > 0, 'the blobs came from the other host')
  t.same(elsewhere.filter((a) => a !== undefined), [], 'which never got the credentials')
  t.notMatch(run.stdout + run.stderr, 'mirror-secret')
  t.equal((await get(here, '/v1/_packs/hellouniverse/1.0.0')).statusCode, 200)

  writeFileSync(credentials, stringify({ username: 'mirror', password: 'wrong' }))
  const refused = await runCliHere(['sync', file, '--once'])
  t.equal(refused.code, 1)
  t.match(refused.stdout, /GET \/v1\/_catalog answered 401: check the username and password \(or credentialsfile\)/)
  t.notMatch(refused.stdout + refused.stderr, 'wrong')
})

t.test('the token flow: a Bearer challenge is answered with a token from the realm, asked with the credentials', async (t) => {
  const upstream = await listeningApp(t, {}, { auth: false })
  const pushed = await pushPack(upstream.app, { version: '1.0.0' })
  const tokenRequests: string[] = []
  let port = 0
  port = await listen(t, (req, res) => {
    if (req.url?.startsWith('/token?')) {
      tokenRequests.push(req.url)
      if (req.headers.authorization !== AUTH) {
        res.writeHead(401).end()
        return
      }
      const scope = new URL(req.url, 'http://x').searchParams.get('scope') ?? ''
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `token for ${scope}` }))
      return
    }
    const repo = /^\/v2\/(.+?)\/(?:tags|manifests|blobs|referrers)\//.exec(req.url ?? '')?.[1]
    const scope = repo ? `repository:${repo}:pull` : 'registry:catalog:*'
    if (req.headers.authorization !== `Bearer token for ${scope}`) {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="front",scope="${scope}"` }).end()
      return
    }
    forward(upstream.server, req, res)
  })
  const dir = tempDir(t)
  const doc = {
    storage: { filesystem: { rootdirectory: join(dir, 'data') } },
    log: { level: 'silent' },
    sync: { registries: [{ url: `http://127.0.0.1:${port}`, api: 'v2', username: 'mirror', password: 'mirror-secret' }] },
  }
  const file = join(dir, 'config.yml')
  writeFileSync(file, stringify({ ...doc, auth: 'none' }))
  const run = await runCliHere(['sync', file, '--once'])
  t.equal(run.code, 0, run.stdout + run.stderr)
  t.match(run.stdout, /copied 1 pack /)
  t.same(
    tokenRequests.map((u) => new URL(u, 'http://x').searchParams.get('scope')),
    ['registry:catalog:*', 'repository:spectro-packs/archive/hellouniverse:pull'],
    'one token per repository, kept for its next requests',
  )
  const here = await testApp(t, doc, { auth: false })
  t.match((await get(here, '/v1/_packs/hellouniverse/1.0.0')).body, pushed.digest)
})

t.test('a blob whose bytes do not match its digest: the tag fails, nothing of it is kept', async (t) => {
  const upstream = await listeningApp(t, {}, { auth: false })
  await pushPack(upstream.app, { version: '1.0.0' }, { 'README.md': 'r'.repeat(5000) })
  const port = await listen(t, (req, res) => {
    if (!req.url?.includes('/blobs/')) return forward(upstream.server, req, res)
    // Same length, one byte changed.
    const out = request(`http://${upstream.server}${req.url}`, (answer) => {
      const chunks: Buffer[] = []
      answer.on('data', (c: Buffer) => chunks.push(c))
      answer.on('end', () => {
        const body = Buffer.concat(chunks)
        if (body.length > 0) body[body.length - 1] = (body[body.length - 1] as number) ^ 0xff
        res.writeHead(answer.statusCode ?? 502, { 'content-length': String(body.length) }).end(body)
      })
    })
    out.on('error', () => res.destroy())
    out.end()
  })
  const dir = tempDir(t)
  const doc = { storage: { filesystem: { rootdirectory: join(dir, 'data') } }, log: { level: 'silent' }, sync: { registries: [{ url: `http://127.0.0.1:${port}` }] } }
  const file = join(dir, 'config.yml')
  writeFileSync(file, stringify({ ...doc, auth: 'none' }))
  const run = await runCliHere(['sync', file, '--once'])
  t.equal(run.code, 1)
  t.match(run.stdout, /failed +hellouniverse:1\.0\.0 +http:\/\/127\.0\.0\.1:\d+: the blob sha256:[0-9a-f]{64} of hellouniverse it sent does not match its digest/)
  const here = await testApp(t, doc, { auth: false })
  t.equal((await get(here, '/v1/_packs/hellouniverse/1.0.0')).statusCode, 404)
})
