// Abandoned uploads on a running server: a client starts a session and sends one chunk over
// real HTTP, then never comes back; the server's purge timer removes the session and its
// bytes once they are older than storage.maintenance.uploadpurging.age. Finished uploads stay.

import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { sha256, startPackyard } from './helpers.js'

t.test('the server purges abandoned uploads after expiry', async (t) => {
  const packyard = await startPackyard(t, {
    REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE: '1s',
    REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_INTERVAL: '200ms',
  })
  const headers = { authorization: packyard.authorization }
  const uploadsDir = join(packyard.root, 'uploads')

  const start = await fetch(`${packyard.url}/v2/abandoned/repo/blobs/uploads/`, { method: 'POST', headers })
  t.equal(start.status, 202)
  const location = `${packyard.url}${start.headers.get('location')}`
  const chunk = Buffer.alloc(64 * 1024, 9)
  const patch = await fetch(location, {
    method: 'PATCH',
    headers: { ...headers, 'content-type': 'application/octet-stream', 'content-range': `0-${chunk.length - 1}` },
    body: chunk,
  })
  t.equal(patch.status, 202)
  t.equal(patch.headers.get('range'), `0-${chunk.length - 1}`)
  t.equal(readdirSync(uploadsDir).length, 1, 'the chunk waits in <root>/uploads')

  const kept = Buffer.from('a finished upload')
  const done = await fetch(`${packyard.url}/v2/abandoned/repo/blobs/uploads/?digest=${sha256(kept)}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/octet-stream' },
    body: kept,
  })
  t.equal(done.status, 201)

  const deadline = Date.now() + 10_000
  let status = 0
  while (Date.now() < deadline) {
    status = (await fetch(location, { headers })).status
    if (status === 404) break
    await new Promise((r) => setTimeout(r, 200))
  }
  t.equal(status, 404, 'the session expired')
  t.same(readdirSync(uploadsDir), [], 'its bytes are gone')
  const blob = await fetch(`${packyard.url}/v2/abandoned/repo/blobs/${sha256(kept)}`, { headers })
  t.equal(blob.status, 200, 'the finished upload is untouched')
  t.equal(Buffer.from(await blob.arrayBuffer()).toString(), 'a finished upload')
  t.same(packyard.serverErrors(), [], 'no request got a 5xx')
})
