// SIGKILL the real server after pushes were acknowledged and before their events were
// delivered (the receiver holds every request unanswered), restart it on the same data with the
// receiver accepting: every acknowledged push's event arrives, in order, with the pack object.

import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { DistributionEvent } from '../../src/notifications/events.js'
import { basic, makeHtpasswd, startServer, tempDir, USERS } from '../helpers.js'
import { archive, multipart, packFiles } from '../pack-fixtures.js'

t.test('kill -9 between acknowledgement and delivery: the restarted server delivers the events', async (t) => {
  let accepting = false
  const events: DistributionEvent[] = []
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (!accepting) return
      events.push(...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: DistributionEvent[] }).events)
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    receiver.closeAllConnections()
    return new Promise((resolve) => receiver.close(resolve))
  })
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`

  const cwd = tempDir(t)
  const env = {
    REGISTRY_HTTP_ADDR: '127.0.0.1:0',
    REGISTRY_AUTH_HTPASSWD_PATH: makeHtpasswd(cwd, USERS),
    REGISTRY_NOTIFICATIONS_ENDPOINTS: `[{name: ci, url: "${hook}", timeout: 30s, backoff: 100ms}]`,
  }
  const auth = basic('admin', USERS.admin)
  const first = await startServer(t, [], env, cwd)
  const pushed: string[] = []
  for (const version of ['1.0.0', '1.1.0', '2.0.0']) {
    const form = multipart({}, await archive(packFiles({ name: 'kept', version })))
    const res = await fetch(`${first.url}/v1/_packs`, { method: 'POST', body: form.payload, headers: { ...form.headers, authorization: auth } })
    t.equal(res.status, 201, `${version} acknowledged`)
    pushed.push(((await res.json()) as { manifestDigest: string }).manifestDigest)
  }
  first.child.kill('SIGKILL')
  await first.exited
  t.same(events, [], 'nothing delivered before the kill')

  accepting = true
  await startServer(t, [], env, cwd)
  const until = Date.now() + 15_000
  while (events.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  t.same(events.map((e) => e.target.digest), pushed, 'every acknowledged push, in order')
  t.same(events.map((e) => e.pack?.version), ['1.0.0', '1.1.0', '2.0.0'])
  t.ok(events.every((e) => e.target.repository === 'spectro-packs/archive/kept' && e.action === 'push'))
})
