// A 1 GiB blob pushed over real HTTP in one streamed PATCH (no Content-Length, as docker and
// skopeo send it) and read back: the bytes flow socket → disk → socket without ever being
// held in memory, so the server's peak RSS stays far below the blob's size.

import t from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { generatedBytes, sendHashed, startPackyard } from './helpers.js'

const GiB = 1024 * 1024 * 1024

/** Peak resident set size of a process, in bytes (Linux). */
function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : Number.NaN
}

t.test('a 1 GiB streamed upload keeps the server RSS low', async (t) => {
  const packyard = await startPackyard(t)
  const auth = { authorization: packyard.authorization }
  const start = await sendHashed(`${packyard.url}/v2/big/blob/blobs/uploads/`, 'POST', auth)
  t.equal(start.status, 202)
  const location = `${packyard.url}${start.headers.location}`

  const hash = createHash('sha256')
  const patch = await sendHashed(location, 'PATCH', { ...auth, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }, generatedBytes(0, GiB, hash))
  t.equal(patch.status, 202)
  t.equal(patch.headers.range, `0-${GiB - 1}`)
  const digest = `sha256:${hash.digest('hex')}`
  const put = await sendHashed(`${location}?digest=${digest}`, 'PUT', auth)
  t.equal(put.status, 201)
  t.equal(put.headers['docker-content-digest'], digest)

  const get = await sendHashed(`${packyard.url}/v2/big/blob/blobs/${digest}`, 'GET', auth)
  t.equal(get.status, 200)
  t.equal(get.size, GiB)
  t.equal(get.digest, digest, 'read back intact')

  const peak = peakRss(packyard.pid)
  // Holding half the blob anywhere would exceed it; the rest is the process itself (~150 MiB).
  t.ok(peak < GiB / 2, `peak RSS ${Math.round(peak / 1024 / 1024)} MiB stays far below the 1024 MiB blob`)
  t.same(packyard.serverErrors(), [], 'no request got a 5xx')
})
