// A 1 GiB blob pushed over real HTTP in one streamed PATCH (no Content-Length, as docker and
// skopeo send it) and read back: the bytes flow socket → disk → socket without ever being
// held in memory, so the server's peak RSS stays far below the blob's size.

import t from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { Readable } from 'node:stream'
import { startPackyard } from './helpers.js'

const GiB = 1024 * 1024 * 1024
const CHUNK = 1024 * 1024

/** Peak resident set size of a process, in bytes (Linux). */
function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : Number.NaN
}

/** 1 GiB of varied bytes, generated chunk by chunk and hashed on the way out. */
function generated(total: number, hash: ReturnType<typeof createHash>): Readable {
  let sent = 0
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null)
        return
      }
      const chunk = Buffer.alloc(Math.min(CHUNK, total - sent), sent / CHUNK)
      chunk.writeUInt32BE(sent / CHUNK, 0)
      hash.update(chunk)
      sent += chunk.length
      this.push(chunk)
    },
  })
}

function send(url: string, method: string, headers: Record<string, string>, body?: Readable): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; digest: string; size: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const hash = createHash('sha256')
      let size = 0
      res.on('data', (c: Buffer) => {
        hash.update(c)
        size += c.length
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, digest: `sha256:${hash.digest('hex')}`, size }))
      res.on('error', reject)
    })
    req.on('error', reject)
    if (body) body.pipe(req)
    else req.end()
  })
}

t.test('a 1 GiB streamed upload keeps the server RSS low', async (t) => {
  const packyard = await startPackyard(t)
  const auth = { authorization: packyard.authorization }
  const start = await send(`${packyard.url}/v2/big/blob/blobs/uploads/`, 'POST', auth)
  t.equal(start.status, 202)
  const location = `${packyard.url}${start.headers.location}`

  const hash = createHash('sha256')
  const patch = await send(location, 'PATCH', { ...auth, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }, generated(GiB, hash))
  t.equal(patch.status, 202)
  t.equal(patch.headers.range, `0-${GiB - 1}`)
  const digest = `sha256:${hash.digest('hex')}`
  const put = await send(`${location}?digest=${digest}`, 'PUT', auth)
  t.equal(put.status, 201)
  t.equal(put.headers['docker-content-digest'], digest)

  const get = await send(`${packyard.url}/v2/big/blob/blobs/${digest}`, 'GET', auth)
  t.equal(get.status, 200)
  t.equal(get.size, GiB)
  t.equal(get.digest, digest, 'read back intact')

  const peak = peakRss(packyard.pid)
  t.ok(peak < 256 * 1024 * 1024, `peak RSS ${Math.round(peak / 1024 / 1024)} MiB stays far below the 1024 MiB blob`)
  t.same(packyard.serverErrors(), [], 'no request got a 5xx')
})
