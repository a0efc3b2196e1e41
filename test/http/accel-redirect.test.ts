// storage.filesystem.accelredirect: blob GETs (/v2, the distribution API on /v1, /v1 pack
// archives and files) answer an empty 200 with `X-Accel-Redirect: <prefix>sha256/<2 hex>/<64
// hex>` and every header a client needs, once Packyard has authenticated and resolved them;
// HEADs, conditional GETs and images shown inline are still answered by Packyard, and with the
// key unset Packyard sends the bytes. Headers are checked with app.inject(); then through a real
// nginx (test/nginx.ts, its internal location aliased to the root's blobs/) in front of Packyard
// listening on a port: the bytes, a range, a HEAD, a refused anonymous GET, a pack archive, and
// the sent-bytes metric counting only what Packyard itself sent; and with the key unset, the
// bytes from Packyard through the same nginx.

import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { ADMIN, basic, listeningApp, tempDir, testApp } from '../helpers.js'
import { ACCEL_PREFIX, startNginx } from '../nginx.js'
import { archive, packFiles, push } from '../pack-fixtures.js'
import { digestOf, OCTET, pushBlob } from './v2-helpers.js'

const PREFIX = ACCEL_PREFIX

function accelConfig(root: string, prefix: string | null = PREFIX) {
  return { storage: { filesystem: { rootdirectory: root, ...(prefix === null ? {} : { accelredirect: prefix }) } } }
}

/** `<prefix>sha256/<2 hex>/<64 hex>`, as the contract with nginx's location spells it. */
function accelOf(digest: string): string {
  const hex = digest.slice('sha256:'.length)
  return `${PREFIX}sha256/${hex.slice(0, 2)}/${hex}`
}

/** The blob's file under the root, where nginx's alias of `<root>/blobs/` finds the redirect's path. */
function fileOf(root: string, digest: string): Buffer {
  return readFileSync(join(root, 'blobs', accelOf(digest).slice(PREFIX.length)))
}

async function pushArchive(t: Test, app: FastifyInstance): Promise<{ tgz: Buffer; digest: string }> {
  const tgz = await archive(packFiles({ name: 'accel', version: '1.0.0' }))
  const res = await push(app, tgz)
  t.equal(res.statusCode, 201, res.body)
  return { tgz, digest: digestOf(tgz) }
}

t.test('a blob GET answers X-Accel-Redirect to the blob file, with the headers of the bytes and no body', async (t) => {
  const root = join(tempDir(t), 'data')
  const app = await testApp(t, accelConfig(root))
  const data = randomBytes(64 * 1024)
  const digest = await pushBlob(t, app, 'team/app', data)

  const direct = await testApp(t, accelConfig(join(tempDir(t), 'data'), null))
  await pushBlob(t, direct, 'team/app', data)
  const normal = await direct.inject({ url: `/v2/team/app/blobs/${digest}`, headers: { authorization: ADMIN } })
  t.ok(normal.rawPayload.equals(data), 'key unset: Packyard sends the bytes')
  t.notOk(normal.headers['x-accel-redirect'], 'key unset: no X-Accel-Redirect')

  const res = await app.inject({ url: `/v2/team/app/blobs/${digest}`, headers: { authorization: ADMIN } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-accel-redirect'], accelOf(digest), "the blob's path under the location")
  t.equal(res.rawPayload.length, 0, 'no body')
  t.equal(res.headers['content-length'], '0')
  for (const header of ['docker-content-digest', 'etag', 'cache-control', 'content-type', 'content-disposition', 'x-content-type-options', 'content-security-policy', 'docker-distribution-api-version']) {
    t.equal(res.headers[header], normal.headers[header], `${header} as without the key`)
  }
  t.notOk(res.headers['accept-ranges'], "Accept-Ranges is nginx's to say")
  t.ok(fileOf(root, digest).equals(data), 'the redirect names the blob file under <root>/blobs/')

  const ranged = await app.inject({ url: `/v2/team/app/blobs/${digest}`, headers: { authorization: ADMIN, range: 'bytes=0-9' } })
  t.equal(ranged.statusCode, 200, 'a Range is left to nginx, which has the request')
  t.equal(ranged.headers['x-accel-redirect'], accelOf(digest))

  const head = await app.inject({ method: 'HEAD', url: `/v2/team/app/blobs/${digest}`, headers: { authorization: ADMIN } })
  t.equal(head.statusCode, 200)
  t.notOk(head.headers['x-accel-redirect'], 'HEAD: answered by Packyard')
  t.equal(head.headers['content-length'], String(data.length))
  t.equal(head.headers['docker-content-digest'], digest)

  const cached = await app.inject({ url: `/v2/team/app/blobs/${digest}`, headers: { authorization: ADMIN, 'if-none-match': `"${digest}"` } })
  t.equal(cached.statusCode, 304, 'If-None-Match: 304 from Packyard')
  t.notOk(cached.headers['x-accel-redirect'])

  const image = await app.inject({ url: `/v2/team/app/blobs/${digest}?type=image/png`, headers: { authorization: ADMIN } })
  t.notOk(image.headers['x-accel-redirect'], 'an image shown inline: Packyard sends it, with its sandboxing CSP')
  t.ok(image.rawPayload.equals(data))

  const anonymous = await app.inject({ url: `/v2/team/app/blobs/${digest}` })
  t.equal(anonymous.statusCode, 401)
  t.notOk(anonymous.headers['x-accel-redirect'], 'no credentials: no redirect')
  const unknown = await app.inject({ url: `/v2/team/app/blobs/${digestOf('absent')}`, headers: { authorization: ADMIN } })
  t.equal(unknown.statusCode, 404)
  t.notOk(unknown.headers['x-accel-redirect'], 'an unknown blob: 404 from Packyard')
})

t.test('pack archives and pack files on /v1/_packs redirect too', async (t) => {
  const root = join(tempDir(t), 'data')
  const app = await testApp(t, accelConfig(root))
  const { tgz, digest } = await pushArchive(t, app)
  const res = await app.inject({ url: '/v1/_packs/accel/1.0.0/archive', headers: { authorization: ADMIN } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-accel-redirect'], accelOf(digest))
  t.equal(res.headers['docker-content-digest'], digest)
  t.equal(res.headers['content-type'], 'application/gzip')
  t.match(res.headers['content-disposition'], /^attachment; filename=".+\.tar\.gz"$/)
  t.ok(fileOf(root, digest).equals(tgz))

  const blob = await app.inject({ url: `/v1/accel/blobs/${digest}`, headers: { authorization: ADMIN } })
  t.equal(blob.statusCode, 200)
  t.equal(blob.headers['x-accel-redirect'], accelOf(digest), 'the same archive as a blob of the distribution API on /v1')
  t.equal(blob.headers['docker-content-digest'], digest)

  const file = await app.inject({ url: '/v1/_packs/accel/1.0.0/files/values.yaml', headers: { authorization: ADMIN } })
  t.equal(file.statusCode, 200)
  t.equal(fileOf(root, String(file.headers['docker-content-digest'])).toString(), packFiles()['values.yaml'], 'values.yaml through the location')
})

t.test('through nginx: the bytes, a range, HEAD, a refused anonymous GET, a pack archive; the metric counts what Packyard sent', async (t) => {
  const root = join(tempDir(t), 'data')
  const { app, server } = await listeningApp(t, accelConfig(root))
  const nginx = await startNginx(t, [server], { accel: join(root, 'blobs') })
  const data = randomBytes(8 * 1024 * 1024 + 123)
  const digest = digestOf(data)

  const pushed = await fetch(`${nginx.url}/v2/team/app/blobs/uploads/?digest=${digest}`, { method: 'POST', headers: { authorization: ADMIN, 'content-type': OCTET }, body: data })
  t.equal(pushed.status, 201, 'pushed through nginx')
  const head = await fetch(`${nginx.url}/v2/team/app/blobs/${digest}`, { method: 'HEAD', headers: { authorization: ADMIN } })
  t.equal(head.status, 200)
  t.equal(head.headers.get('content-length'), String(data.length))
  t.equal(head.headers.get('docker-content-digest'), digest)

  const whole = await fetch(`${nginx.url}/v2/team/app/blobs/${digest}`, { headers: { authorization: ADMIN } })
  const body = Buffer.from(await whole.arrayBuffer())
  t.equal(whole.status, 200)
  t.ok(body.equals(data), 'byte-identical')
  t.equal(whole.headers.get('content-length'), String(data.length))
  t.equal(whole.headers.get('docker-content-digest'), digest)
  t.equal(whole.headers.get('etag'), `"${digest}"`)
  t.equal(whole.headers.get('content-type'), OCTET)
  t.equal(whole.headers.get('cache-control'), head.headers.get('cache-control'))
  t.equal(whole.headers.get('x-content-type-options'), 'nosniff')
  t.equal(whole.headers.get('content-disposition'), 'attachment')
  t.equal(whole.headers.get('accept-ranges'), 'bytes', 'said once')
  t.notOk(whole.headers.get('x-accel-redirect'), 'nginx does not show the redirect')

  const part = await fetch(`${nginx.url}/v2/team/app/blobs/${digest}`, { headers: { authorization: ADMIN, range: 'bytes=1000000-1999999' } })
  t.equal(part.status, 206)
  t.equal(part.headers.get('content-range'), `bytes 1000000-1999999/${data.length}`)
  t.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(1_000_000, 2_000_000)), 'the range, from the file')
  t.equal(part.headers.get('docker-content-digest'), digest)
  const tail = await fetch(`${nginx.url}/v2/team/app/blobs/${digest}`, { headers: { authorization: ADMIN, range: 'bytes=-5' } })
  t.equal(tail.status, 206)
  t.ok(Buffer.from(await tail.arrayBuffer()).equals(data.subarray(-5)), 'a suffix range')

  for (const authorization of [undefined, basic('admin', 'wrong')]) {
    const refused = await fetch(`${nginx.url}/v2/team/app/blobs/${digest}`, { headers: authorization ? { authorization } : {} })
    const text = await refused.text()
    t.equal(refused.status, 401, authorization ? 'a wrong password' : 'no credentials')
    t.ok(text.length < 1000 && !text.includes(data.subarray(0, 16).toString('latin1')), 'an error, not the file')
  }
  const internal = await fetch(`${nginx.url}${accelOf(digest)}`, { headers: { authorization: ADMIN } })
  await internal.arrayBuffer()
  t.not(internal.status, 200, 'the internal location is not served to clients')

  const { tgz, digest: archiveDigest } = await pushArchive(t, app)
  const pulled = await fetch(`${nginx.url}/v1/_packs/accel/1.0.0/archive`, { headers: { authorization: ADMIN } })
  t.equal(pulled.status, 200)
  t.ok(Buffer.from(await pulled.arrayBuffer()).equals(tgz), 'the pack archive through /v1')
  t.equal(pulled.headers.get('docker-content-digest'), archiveDigest)
  t.equal(pulled.headers.get('content-type'), 'application/gzip')
  t.match(pulled.headers.get('content-disposition'), /^attachment; filename=/)

  const metrics = await (await fetch(`${nginx.url}/metrics`, { headers: { authorization: ADMIN } })).text()
  const sent = /^packyard_http_sent_bytes_total\{route="\/v2\/\*"\} (\d+)$/m.exec(metrics)
  t.ok(sent && Number(sent[1]) < 64 * 1024, `Packyard counts only the headers it sent, not the ${data.length} bytes nginx did (${sent?.[1]})`)
  t.match(metrics, /^packyard_pulls_total\{surface="v1-packs"\} 1$/m, 'the archive pull is counted')
})

t.test('through nginx with the key unset: Packyard sends the bytes itself', async (t) => {
  const root = join(tempDir(t), 'data')
  const { server } = await listeningApp(t, accelConfig(root, null))
  const nginx = await startNginx(t, [server], { accel: join(root, 'blobs') })
  const data = randomBytes(2 * 1024 * 1024)
  const digest = digestOf(data)
  const pushed = await fetch(`${nginx.url}/v2/team/app/blobs/uploads/?digest=${digest}`, { method: 'POST', headers: { authorization: ADMIN, 'content-type': OCTET }, body: data })
  t.equal(pushed.status, 201)
  const whole = await fetch(`${nginx.url}/v2/team/app/blobs/${digest}`, { headers: { authorization: ADMIN } })
  t.ok(Buffer.from(await whole.arrayBuffer()).equals(data), 'byte-identical')
  t.equal(whole.headers.get('docker-content-digest'), digest)
  t.equal(whole.headers.get('accept-ranges'), 'bytes')
  const direct = await fetch(`http://${server}/v2/team/app/blobs/${digest}`, { headers: { authorization: ADMIN } })
  t.ok(Buffer.from(await direct.arrayBuffer()).equals(data), 'and straight from Packyard')
  t.notOk(direct.headers.get('x-accel-redirect'), 'without X-Accel-Redirect')
  // A response is counted when the server sees it finish, which may come just after the client
  // has read the last byte: asked again for up to two seconds.
  const sentBytes = async () => {
    const metrics = await (await fetch(`${nginx.url}/metrics`, { headers: { authorization: ADMIN } })).text()
    return Number(/^packyard_http_sent_bytes_total\{route="\/v2\/\*"\} (\d+)$/m.exec(metrics)?.[1] ?? 0)
  }
  let sent = await sentBytes()
  for (const deadline = Date.now() + 2000; sent < 2 * data.length && Date.now() < deadline; sent = await sentBytes()) await new Promise((resolve) => setTimeout(resolve, 50))
  t.ok(sent >= 2 * data.length, `Packyard counts the bytes it sent (${sent})`)
})
