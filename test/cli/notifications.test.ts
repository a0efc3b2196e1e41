// packyard notifications ls and retry against a real server on an ephemeral port, with one
// endpoint whose receiver refuses until it is fixed, one disabled; a reader refused; and the
// event of a `packyard pack push`, with its pack object.

import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { listeningApp, runCliHere, tempDir, USERS } from '../helpers.js'
import { makeImage, pushImage } from '../http/v2-helpers.js'

t.test('packyard notifications ls and retry', async (t) => {
  let status = 500
  let received = 0
  const receiver = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      if (status === 200) received++
      res.writeHead(status).end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => receiver.close(resolve)))
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`
  const { app, server: S } = await listeningApp(t, {
    notifications: { endpoints: [{ name: 'ci', url, backoff: '1h', threshold: 1 }, { name: 'chat', url, disabled: true }] },
  })
  const home = join(tempDir(t), 'home')
  mkdirSync(home)
  const env = { HOME: home }
  const cli = (args: string[]) => runCliHere(args, { env })
  t.equal((await cli(['registry', 'login', S, '--insecure', '--username', 'admin', '--password', USERS.admin])).code, 0)

  await pushImage(t, app, 'images/app', makeImage('cli', 1), 'v1')
  const until = Date.now() + 5000
  while ((await app.registry.notifications?.status())?.[1]?.state !== 'failing' && Date.now() < until) await new Promise((r) => setTimeout(r, 10))

  const table = await cli(['notifications', 'ls'])
  t.equal(table.code, 0, table.stderr)
  const lines = table.stdout.trimEnd().split('\n')
  t.match(lines[0], /^NAME\s+STATE\s+PENDING\s+DELIVERED\s+FAILED\s+DROPPED\s+LAST DELIVERY\s+LAST ERROR$/)
  t.match(lines[1], /^chat\s+disabled\s+0\s+0\s+0\s+0\s+-\s+-$/)
  t.match(lines[2], /^ci\s+failing\s+1\s+0\s+1\s+0\s+-\s+HTTP 500$/)

  status = 200
  const retry = await cli(['notifications', 'retry', 'ci'])
  t.equal(retry.code, 0, retry.stderr)
  t.equal(retry.stdout, 'Retrying ci now: 1 events pending (state failing, last error: HTTP 500).\n')
  while (received === 0 && Date.now() < until + 5000) await new Promise((r) => setTimeout(r, 10))
  const json = JSON.parse((await cli(['notifications', 'ls', '--output', 'json'])).stdout) as { endpoints: Array<Record<string, unknown>> }
  t.match(json.endpoints[1], { name: 'ci', state: 'idle', pending: 0, delivered: 1, failedAttempts: 1, lastError: null })

  const unknown = await cli(['notifications', 'retry', 'nope'])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /^Error: no notification endpoint nope \(configured: chat, ci\)\n$/)
  const disabled = await cli(['notifications', 'retry', 'chat'])
  t.match(disabled.stderr, /endpoint chat is disabled; set disabled: false/)

  const readerHome = join(tempDir(t), 'reader')
  t.equal((await runCliHere(['registry', 'login', S, '--insecure', '-s', readerHome, '--username', 'reader', '--password', USERS.reader], { env })).code, 0)
  const reader = await runCliHere(['notifications', 'ls', '-s', readerHome], { env })
  t.equal(reader.code, 1)
  t.match(reader.stderr, /^Error: notifications are for writers only, and user reader is not one/)
})

t.test('a registry without endpoints lists none', async (t) => {
  const { server: S } = await listeningApp(t)
  const home = join(tempDir(t), 'home')
  mkdirSync(home)
  const env = { HOME: home }
  t.equal((await runCliHere(['registry', 'login', S, '--insecure', '--username', 'admin', '--password', USERS.admin], { env })).code, 0)
  const ls = await runCliHere(['notifications', 'ls'], { env })
  t.equal(ls.stdout, 'No notification endpoints are configured (notifications.endpoints).\n')
})

t.test('packyard pack push: the receiver gets the push event with the pack object', async (t) => {
  const bodies: Array<{ events: Array<Record<string, unknown>> }> = []
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: Array<Record<string, unknown>> })
      res.writeHead(200).end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => receiver.close(resolve)))
  const { server: S } = await listeningApp(t, { notifications: { endpoints: [{ name: 'ci', url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/` }] } })
  const home = join(tempDir(t), 'home')
  mkdirSync(home)
  const env = { HOME: home }
  t.equal((await runCliHere(['registry', 'login', S, '--insecure', '--username', 'admin', '--password', USERS.admin], { env })).code, 0)
  const folder = join(tempDir(t), 'hello')
  mkdirSync(join(folder, 'manifests'), { recursive: true })
  writeFileSync(join(folder, 'pack.json'), JSON.stringify({ name: 'hello', displayName: 'Hello', version: '1.0.0', layer: 'addon', cloudTypes: ['all'], kubeManifests: ['manifests/cm.yaml'] }))
  writeFileSync(join(folder, 'values.yaml'), 'pack:\n  namespace: hello\n')
  writeFileSync(join(folder, 'logo.png'), 'PNG')
  writeFileSync(join(folder, 'manifests', 'cm.yaml'), 'kind: ConfigMap\n')
  const pushed = await runCliHere(['pack', 'push', folder], { env })
  t.equal(pushed.code, 0, pushed.stderr)
  const until = Date.now() + 5000
  while (bodies.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10))
  t.match(bodies[0]?.events[0], {
    action: 'push',
    target: { repository: 'spectro-packs/archive/hello', tag: '1.0.0' },
    request: { method: 'POST', useragent: /^packyard\// },
    actor: { name: 'admin' },
    pack: { name: 'hello', version: '1.0.0', tag: '1.0.0', forced: false, parentTags: [{ tag: '1.0.x', from: null, to: '1.0.0' }, { tag: '1.x', from: null, to: '1.0.0' }] },
  })
})
