// packyard sync as a process: killed with SIGKILL in the middle of a blob download and started
// again, it only compares the packs it had finished (their blobs are not fetched again) and copies
// the rest; without --once it goes on every pollinterval.

import t from 'tap'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { listeningApp, runCliHere, spawnBin, tempDir, testApp } from '../helpers.js'
import { get, pushPack } from '../pack-fixtures.js'
import { forward } from './forward.js'

t.test('a sync killed mid-download resumes without redoing finished packs', async (t) => {
  const upstream = await listeningApp(t, {}, { auth: false })
  for (const name of ['alpha', 'bravo', 'charlie', 'zulu']) await pushPack(upstream.app, { name, version: '1.0.0' }, { 'README.md': `${name} `.repeat(2000) })

  const blobRequests: string[] = []
  let stall = true
  let stalled: () => void = () => {}
  const reachedZulu = new Promise<void>((resolve) => (stalled = resolve))
  const front = createServer((req, res) => {
    if (req.url?.includes('/blobs/')) blobRequests.push(req.url)
    if (stall && req.url?.startsWith('/v1/zulu/blobs/')) {
      // Headers and the first bytes, then nothing: the process is killed in the middle.
      res.writeHead(200, { 'content-length': '100000', 'content-type': 'application/octet-stream' })
      res.write(Buffer.alloc(10))
      stalled()
      return
    }
    forward(upstream.server, req, res)
  })
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    front.closeAllConnections()
    front.close()
  })

  const dir = tempDir(t)
  const doc = {
    storage: { filesystem: { rootdirectory: join(dir, 'data') } },
    log: { level: 'silent' },
    sync: { registries: [{ url: `http://127.0.0.1:${(front.address() as AddressInfo).port}`, maxconcurrency: 1 }] },
  }
  const file = join(dir, 'config.yml')
  writeFileSync(file, stringify({ ...doc, auth: 'none' }))

  const killed = spawnBin(['sync', file, '--once'])
  await reachedZulu
  killed.child.kill('SIGKILL')
  await killed.exited
  const before = blobRequests.filter((u) => !u.startsWith('/v1/zulu/'))
  t.ok(before.length > 0, 'the first packs were downloaded')

  const here = await testApp(t, doc, { auth: false })
  for (const name of ['alpha', 'bravo', 'charlie']) t.equal((await get(here, `/v1/_packs/${name}/1.0.0`)).statusCode, 200, `${name} was finished before the kill`)
  t.equal((await get(here, '/v1/_packs/zulu/1.0.0')).statusCode, 404)

  stall = false
  const again = await runCliHere(['sync', file, '--once'])
  t.equal(again.code, 0, again.stdout + again.stderr)
  t.match(again.stdout, /copied 1 pack \(\d+ blobs?, .*\), 3 unchanged, 0 in conflict, 0 refused, 0 failed/)
  t.same(blobRequests.filter((u) => !u.startsWith('/v1/zulu/')), before, 'no blob of a finished pack is fetched again')
  t.equal((await get(here, '/v1/_packs/zulu/1.0.0')).statusCode, 200)
})

t.test('without --once, packyard sync runs again every pollinterval until stopped', async (t) => {
  const upstream = await listeningApp(t, {}, { auth: false })
  await pushPack(upstream.app, { version: '1.0.0' })
  const dir = tempDir(t)
  const file = join(dir, 'config.yml')
  writeFileSync(file, stringify({ storage: { filesystem: { rootdirectory: join(dir, 'data') } }, auth: 'none', sync: { registries: [{ url: `http://${upstream.server}`, pollinterval: '200ms' }] } }))
  const running = spawnBin(['sync', file])
  t.teardown(() => {
    running.child.kill('SIGKILL')
  })
  const deadline = Date.now() + 20_000
  while ((running.stdout().match(/^http:/gm) ?? []).length < 3) {
    if (Date.now() > deadline || running.child.exitCode !== null) throw new Error(`three runs expected:\n${running.stdout()}\n${running.stderr()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const [first, second] = running.stdout().split('\n').filter((l) => l.startsWith('http:'))
  t.match(first, /copied 1 pack /)
  t.match(second, /copied 0 packs .*1 unchanged/, 'the next runs find it here')
  await pushPack(upstream.app, { version: '1.1.0' })
  while (!/copied 1 pack .*1 unchanged/.test(running.stdout())) {
    if (Date.now() > deadline) throw new Error(`the new version was not copied:\n${running.stdout()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.pass('a version pushed upstream is copied by a later run')
})
