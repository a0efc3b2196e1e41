// Request bodies that end early, never end, or arrive without what the parser needs: each gets a
// clear 4xx, the server stays up, and no temp file is left behind (the reliability issue's
// defects 1 and 10, reproduced first over real sockets as the campaign found them).

import t, { type Test } from 'tap'
import { readdirSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { ADMIN, basic, listeningApp, makeHtpasswd, startServer, tempDir, testApp, USERS } from '../helpers.js'
import { archive, multipart, packFiles } from '../pack-fixtures.js'
import type { UploadStaging } from '../../src/store/uploads.js'
import { stagedIds } from '../store/uploads-conformance.js'

const FORM_HEAD = '--abc\r\nContent-Disposition: form-data; name="archive"; filename="a.tgz"\r\n\r\n'

/** Sends raw bytes on a new connection and resolves with the status line of the answer. */
function rawRequest(url: string, head: string, body: Buffer, opts: { end?: boolean } = {}): { socket: Socket; status: Promise<string> } {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  socket.write(head)
  socket.write(body)
  if (opts.end) socket.end()
  const status = new Promise<string>((resolve) => {
    let got = ''
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1')
      if (got.includes('\r\n')) resolve(got.split('\r\n')[0] as string)
    })
    socket.on('close', () => resolve(got.split('\r\n')[0] || 'closed without an answer'))
    socket.on('error', () => undefined)
  })
  return { socket, status }
}

async function noTempFiles(t: Test, root: string): Promise<void> {
  const uploads = join(root, 'uploads')
  // The answer waits for the store's cleanup, so nothing may be left the moment it arrives.
  t.same(readdirSync(uploads), [], 'no temp file left in uploads/')
}

/** The same for an app in this process, wherever its storage keeps uploads (the storage matrix runs this suite on S3). */
async function nothingStaged(t: Test, staging: UploadStaging): Promise<void> {
  t.same(await stagedIds(staging), [], 'no temp file or object left in uploads/')
}

t.test('a multipart push cut short or without its closing boundary is a 400, over a real socket', async (t) => {
  const cwd = tempDir(t)
  const server = await startServer(t, [], { REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_AUTH_HTPASSWD_PATH: makeHtpasswd(cwd, USERS) }, cwd)
  const tgz = await archive(packFiles({ name: 'cut' }))
  const bodies = {
    'cut after 100 bytes': Buffer.concat([Buffer.from(FORM_HEAD), tgz.subarray(0, 100)]),
    'no closing boundary': Buffer.concat([Buffer.from(FORM_HEAD), tgz, Buffer.from('\r\n')]),
    'four bytes of gzip': Buffer.concat([Buffer.from(FORM_HEAD), Buffer.from([0x1f, 0x8b, 0x08, 0x00])]),
  }
  for (const [what, body] of Object.entries(bodies)) {
    const head =
      `POST /v1/_packs HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic('admin', USERS.admin)}\r\n` +
      `Content-Type: multipart/form-data; boundary=abc\r\nContent-Length: ${body.length}\r\n\r\n`
    const { socket, status } = rawRequest(server.url, head, body)
    t.match(await status, /^HTTP\/1\.1 400 /, what)
    socket.destroy()
    t.equal(server.child.exitCode, null, `${what}: the server is still up`)
    await noTempFiles(t, join(cwd, 'data'))
  }
  const health = await fetch(`${server.url}/health`)
  t.equal(health.status, 200)
})

t.test('multipart form mistakes are 4xx naming what is wrong', async (t) => {
  const app = await testApp(t)
  const noBoundary = await app.inject({ method: 'POST', url: '/v1/_packs', payload: 'x', headers: { authorization: ADMIN, 'content-type': 'multipart/form-data' } })
  t.equal(noBoundary.statusCode, 400)
  t.match(noBoundary.json().errors[0].message, /boundary=/)

  const cut = Buffer.concat([Buffer.from(FORM_HEAD), Buffer.from([0x1f, 0x8b, 0x08, 0x00])])
  const res = await app.inject({ method: 'POST', url: '/v1/_packs', payload: cut, headers: { authorization: ADMIN, 'content-type': 'multipart/form-data; boundary=abc' } })
  t.equal(res.statusCode, 400)
  t.match(res.json().errors[0].message, /malformed multipart\/form-data body/)
  await nothingStaged(t, app.registry.staging)

  const two = multipart({}, await archive(packFiles()))
  const twoFiles = Buffer.concat([two.payload.subarray(0, two.payload.lastIndexOf('------packyard-test-boundary--')), multipart({}, Buffer.from('x'), 'other').payload])
  const second = await app.inject({ method: 'POST', url: '/v1/_packs', payload: twoFiles, headers: { ...two.headers, authorization: ADMIN } })
  t.equal(second.statusCode, 400)
  t.match(second.json().errors[0].message, /exactly one file part/)
})

t.test('http.bodyidletimeout: 0s means no timeout: a body that pauses still lands', async (t) => {
  const { server } = await listeningApp(t, { http: { bodyidletimeout: '0s' } })
  const start = await fetch(`http://${server}/v2/images/app/blobs/uploads/`, { method: 'POST', headers: { authorization: ADMIN } })
  const location = start.headers.get('location') as string
  const head = `PATCH ${location} HTTP/1.1\r\nHost: x\r\nAuthorization: ${ADMIN}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n`
  const patch = rawRequest(`http://${server}`, head, Buffer.alloc(400, 1))
  await new Promise((r) => setTimeout(r, 1500))
  patch.socket.write(Buffer.alloc(600, 1))
  t.match(await patch.status, /^HTTP\/1\.1 202 /, 'accepted after a 1.5 s pause')
  patch.socket.destroy()
})

t.test('a request body that stalls is answered 408 and cleaned up; an upload session stays resumable', async (t) => {
  const cwd = tempDir(t)
  const env = { REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_AUTH_HTPASSWD_PATH: makeHtpasswd(cwd, USERS), REGISTRY_HTTP_BODYIDLETIMEOUT: '1s' }
  const server = await startServer(t, [], env, cwd)
  const auth = basic('admin', USERS.admin)

  // A pack push whose body stops half-way.
  const form = multipart({}, await archive(packFiles({ name: 'stalled' })))
  const pushHead = `POST /v1/_packs HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: ${form.headers['content-type']}\r\nContent-Length: ${form.payload.length}\r\n\r\n`
  const started = Date.now()
  const push = rawRequest(server.url, pushHead, form.payload.subarray(0, form.payload.length / 2))
  t.match(await push.status, /^HTTP\/1\.1 408 /)
  t.ok(Date.now() - started < 5000, 'answered within a few seconds of the idle timeout')
  push.socket.destroy()
  await noTempFiles(t, join(cwd, 'data'))

  // A JSON body (a tag to add) that stalls.
  const tagHead = `PUT /v1/_packs/stalled/_tags/stable HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n`
  const tag = rawRequest(server.url, tagHead, Buffer.from('{"ref":'))
  t.match(await tag.status, /^HTTP\/1\.1 408 /, 'a stalled JSON body is a 408 too')
  tag.socket.destroy()

  // A manifest answered 413 early, whose chunked body then stalls: the timeout after the answer
  // must not bring the server down.
  const manifestHead = `PUT /v2/images/app/manifests/big HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nTransfer-Encoding: chunked\r\n\r\n`
  const chunk = Buffer.alloc(5 * 1024 * 1024, 0x20)
  const manifest = rawRequest(server.url, manifestHead, Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]))
  t.match(await manifest.status, /^HTTP\/1\.1 413 /)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal(server.child.exitCode, null, 'still up after the idle timeout of the abandoned body')
  manifest.socket.destroy()

  // A chunked OCI upload: one chunk lands, the next stalls; the session still holds the first.
  const start = await fetch(`${server.url}/v2/images/app/blobs/uploads/`, { method: 'POST', headers: { authorization: auth } })
  const location = start.headers.get('location') as string
  const first = await fetch(`${server.url}${location}`, { method: 'PATCH', body: Buffer.alloc(1000, 1), headers: { authorization: auth, 'content-range': '0-999', 'content-type': 'application/octet-stream' } })
  t.equal(first.status, 202)
  const patchHead = `PATCH ${location} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/octet-stream\r\nContent-Range: 1000-1999\r\nContent-Length: 1000\r\n\r\n`
  const patch = rawRequest(server.url, patchHead, Buffer.alloc(300, 2))
  t.match(await patch.status, /^HTTP\/1\.1 408 /)
  patch.socket.destroy()
  const status = await fetch(`${server.url}${location}`, { headers: { authorization: auth } })
  t.equal(status.status, 204)
  t.equal(status.headers.get('range'), '0-999', 'the stalled chunk was rolled back; the session resumes at 1000')
  t.equal(server.child.exitCode, null)
})
