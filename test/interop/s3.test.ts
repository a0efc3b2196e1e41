// Packyard on S3 (s3rver on a loopback port) end to end: blob GETs redirected to pre-signed
// bucket URLs, garbage-collect and fsck against the bucket, start-up refusing a bucket it cannot
// use, and faults injected by a proxy between Packyard and S3 (503 SlowDown, 500, connection
// resets): pushes succeed through the retries or fail with 503 naming the backend, a later
// retry of the same push succeeds, nothing half-written is acknowledged and fsck stays clean.

import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { S3BlobStore } from '../../src/store/s3.js'
import { ADMIN, isRequestLine, makeHtpasswd, runBin, startServer, tempDir, testApp, USERS } from '../helpers.js'
import { pushPack, uploadBlob } from '../pack-fixtures.js'
import { s3ConfigDoc, s3Env, startFaultProxy, startS3Server } from '../s3-helpers.js'
import { digestOf } from '../store/conformance.js'

const MiB = 1024 * 1024

function send(url: string, method: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Monolithic push of `data` to `repo` on a running server (POST, then PUT with the bytes). */
async function pushBlob(url: string, repo: string, data: Buffer): Promise<{ status: number; body: string }> {
  const start = await send(`${url}/v2/${repo}/blobs/uploads/`, 'POST', { authorization: ADMIN })
  if (start.status !== 202) return start
  return send(`${url}${start.headers.location}?digest=${digestOf(data)}`, 'PUT', { authorization: ADMIN, 'content-type': 'application/octet-stream', 'content-length': String(data.length) }, data)
}

/** A monolithic /v2 upload through app.inject; its digest. */
async function stored(app: FastifyInstance, repo: string, data: Buffer): Promise<string> {
  const res = await uploadBlob(app, repo, data)
  if (res.statusCode !== 201) throw new Error(`upload failed: ${res.statusCode} ${res.body}`)
  return digestOf(data)
}

t.test('Packyard on S3', async (t) => {
  const s3 = await startS3Server(t)

  t.test('storage.redirect.disable: false sends blob GETs to a pre-signed bucket URL', async (t) => {
    const dir = tempDir(t)
    const app = await testApp(t, { ...s3ConfigDoc(s3.endpoint, dir), storage: { ...(s3ConfigDoc(s3.endpoint, dir).storage as object), redirect: { disable: false } } })
    const data = Buffer.from('served by the bucket')
    const digest = await stored(app, 'team/app', data)
    const get = await app.inject({ url: `/v2/team/app/blobs/${digest}`, headers: { authorization: ADMIN } })
    t.equal(get.statusCode, 307)
    t.equal(get.headers['cache-control'], 'no-store')
    const location = String(get.headers.location)
    t.match(location, new RegExp(`^${s3.endpoint}/packyard/test-[^/]+/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}\\?.*X-Amz-Expires=900`))
    const direct = await fetch(location)
    t.equal(direct.status, 200)
    t.equal(await direct.text(), data.toString())
    const head = await app.inject({ method: 'HEAD', url: `/v2/team/app/blobs/${digest}`, headers: { authorization: ADMIN } })
    t.equal(head.statusCode, 200, 'HEAD is answered by Packyard')
    t.equal(head.headers['content-length'], String(data.length))
    const cached = await app.inject({ url: `/v2/team/app/blobs/${digest}`, headers: { authorization: ADMIN, 'if-none-match': `"${digest}"` } })
    t.equal(cached.statusCode, 304, 'a client that has it gets 304, not a redirect')
    const unknown = await app.inject({ url: `/v2/team/app/blobs/${digestOf('absent')}`, headers: { authorization: ADMIN } })
    t.equal(unknown.statusCode, 404)

    const plain = await testApp(t, s3ConfigDoc(s3.endpoint, tempDir(t)))
    const plainDigest = await stored(plain, 'team/app', data)
    const served = await plain.inject({ url: `/v2/team/app/blobs/${plainDigest}`, headers: { authorization: ADMIN } })
    t.equal(served.statusCode, 200, 'without the option (the default) Packyard streams the bytes')
    t.equal(served.body, data.toString())
  })

  t.test('garbage-collect and fsck work against the bucket', async (t) => {
    const dir = tempDir(t)
    const doc = s3ConfigDoc(s3.endpoint, join(dir, 'data'))
    const app = await testApp(t, doc)
    const pushed = await pushPack(app, {})
    const store = app.registry.store as S3BlobStore
    const orphan = await stored(app, 'lonely/blob', Buffer.from('nobody refers to me'))
    await app.inject({ method: 'DELETE', url: `/v2/lonely/blob/blobs/${orphan}`, headers: { authorization: ADMIN } })
    await app.close()
    const config = join(dir, 'config.yml')
    writeFileSync(config, JSON.stringify({ log: { level: 'silent' }, ...doc }))

    const fsck = await runBin(['fsck', config], { cwd: dir })
    t.equal(fsck.code, 0, fsck.stderr)
    t.match(fsck.stdout, /^checked \d+ blobs \(.*; (\d+) re-hashed, 0 compared with the storage's SHA-256 checksum\): no problems\n$/)
    const dry = await runBin(['garbage-collect', config, '--dry-run', '--grace', '0s', '--force'], { cwd: dir })
    t.equal(dry.code, 0, dry.stderr)
    t.match(dry.stdout, orphan)
    const real = await runBin(['garbage-collect', config, '--grace', '0s', '--force'], { cwd: dir })
    t.match(
      real.stdout,
      new RegExp(
        `^${orphan}  19 B  last accepted [^\n]+ UTC\nremoved: 1 blob \\(19 B\\)\nwithin the 0s grace period: no unreferenced blobs\n` +
          'temp files of interrupted writes: removed 0\nin use \\(a pack version or manifest refers to them\\): \\d+ blobs\n$',
      ),
    )
    t.equal(await store.stat(orphan), null, 'gone from the bucket')

    // Damage in the bucket: the archive's object rewritten with other bytes.
    const victim = pushed.digest as string
    await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: store.blobKey(victim), Body: Buffer.alloc(1500, 7) }))
    const damaged = await runBin(['fsck', config], { cwd: dir })
    t.equal(damaged.code, 1)
    t.match(damaged.stdout, new RegExp(`corrupt ${victim}: content hashes to sha256:[0-9a-f]{64}; used by pack hellouniverse 1.0.0`))
  })

  t.test('a bucket Packyard cannot use stops start-up, naming the bucket, the endpoint and the S3 error', async (t) => {
    const dir = tempDir(t)
    const serve = await runBin(['serve'], { cwd: dir, env: { ...s3Env(s3.endpoint, join(dir, 'data')), REGISTRY_STORAGE_S3_BUCKET: 'missing-bucket', REGISTRY_HTTP_ADDR: '127.0.0.1:0' } })
    t.not(serve.code, 0)
    t.match(serve.stderr, new RegExp(`storage\\.s3: cannot use bucket "missing-bucket" at ${s3.endpoint.replace(/\./g, '\\.')}: NotFound \\(HTTP 404\\)`))
  })

  t.test('faults between Packyard and S3', async (t) => {
    const proxy = await startFaultProxy(t, s3.endpoint)
    const dir = tempDir(t)
    const env = {
      ...s3Env(proxy.endpoint, join(dir, 'data')),
      REGISTRY_HTTP_ADDR: '127.0.0.1:0',
      REGISTRY_AUTH_HTPASSWD_PATH: makeHtpasswd(dir, USERS),
      REGISTRY_LOG_LEVEL: 'info',
    }
    const server = await startServer(t, [], env, dir)
    const serverErrors = () => server.logs().filter((l) => isRequestLine(l) && Number(l.status) >= 500)

    // Every third request to S3 fails: the SDK's retries carry every push through.
    let n = 0
    const faults = ['slowdown', 'reset', 'internal'] as const
    proxy.rule = () => (++n % 3 === 0 ? faults[(n / 3) % 3] as (typeof faults)[number] : 'pass')
    const blobs = [Buffer.alloc(3 * MiB, 1), Buffer.alloc(12 * MiB + 5, 2), Buffer.from('small')]
    for (const [i, data] of blobs.entries()) {
      const pushed = await pushBlob(server.url, `faults/r${i}`, data)
      t.equal(pushed.status, 201, `blob ${i} is stored despite the faults`)
    }
    t.ok(n > 20, `${n} requests went to S3, a third of them failed`)
    t.same(serverErrors(), [], 'no client saw an error')

    // S3 throttles everything: the push fails with 503 naming the backend, nothing is acknowledged.
    proxy.rule = (req) => (req.method === 'GET' || req.method === 'HEAD' ? 'pass' : 'slowdown')
    const data = Buffer.alloc(7 * MiB, 9)
    const refused = await pushBlob(server.url, 'faults/later', data)
    t.equal(refused.status, 503)
    t.match(JSON.parse(refused.body), { errors: [{ code: 'UNAVAILABLE', message: /storage backend S3 \(bucket "packyard" at http:\/\/127\.0\.0\.1:\d+\) failed to .*SlowDown \(HTTP 503\) after 6 attempts/ }] })
    const head = await send(`${server.url}/v2/faults/later/blobs/${digestOf(data)}`, 'HEAD', { authorization: ADMIN })
    t.equal(head.status, 404, 'nothing half-written is visible')

    // S3 is back: the same push succeeds.
    proxy.rule = () => 'pass'
    t.equal((await pushBlob(server.url, 'faults/later', data)).status, 201)
    const get = await send(`${server.url}/v2/faults/later/blobs/${digestOf(data)}`, 'GET', { authorization: ADMIN })
    t.equal(get.status, 200)
    t.equal(get.body.length, data.length)

    server.child.kill('SIGTERM')
    await server.exited
    const fsck = await runBin(['fsck'], { cwd: dir, env: { ...env, REGISTRY_STORAGE_S3_REGIONENDPOINT: s3.endpoint } })
    t.equal(fsck.code, 0, fsck.stdout + fsck.stderr)
    t.match(fsck.stdout, /checked 4 blobs .*: no problems/)
  })
})
