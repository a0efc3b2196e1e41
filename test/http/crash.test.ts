// SIGKILL the real server while a pack push is streaming in, restart it on the same data, and
// check: the database opens cleanly, no pack or blob from the cut push is visible, and a
// pack committed before the crash is intact.

import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { basic, makeHtpasswd, startServer, tempDir, USERS } from '../helpers.js'
import { archive, multipart, packFiles } from '../pack-fixtures.js'

t.test('a push cut by SIGKILL leaves the old state', async (t) => {
  const cwd = tempDir(t)
  const env = { REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_AUTH_HTPASSWD_PATH: makeHtpasswd(cwd, USERS) }
  const auth = basic('admin', USERS.admin)
  const first = await startServer(t, [], env, cwd)

  const kept = multipart({}, await archive(packFiles({ name: 'kept' })))
  const ok = await fetch(`${first.url}/v1/_packs`, { method: 'POST', body: kept.payload, headers: { ...kept.headers, authorization: auth } })
  t.equal(ok.status, 201)

  // A large pack whose body is sent half-way, then the server dies.
  const big = multipart({}, await archive(packFiles({ name: 'cut' }, { 'charts/big.bin': randomBytes(8 * 1024 * 1024) })))
  const url = new URL(`${first.url}/v1/_packs`)
  const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...big.headers, authorization: auth, 'content-length': big.payload.length } })
  req.on('error', () => undefined)
  req.write(big.payload.subarray(0, big.payload.length / 2))
  const uploads = join(cwd, 'data', 'uploads')
  for (let i = 0; i < 100 && readdirSync(uploads).length === 0; i++) await new Promise((r) => setTimeout(r, 20))
  t.ok(readdirSync(uploads).length > 0, 'the blob write was in progress')
  first.child.kill('SIGKILL')
  await first.exited
  req.destroy()

  const second = await startServer(t, [], env, cwd)
  t.equal((await fetch(`${second.url}/health`)).status, 200)
  const catalog = await fetch(`${second.url}/v1/_catalog`, { headers: { authorization: auth } })
  t.same(await catalog.json(), { repositories: ['kept'] }, 'only the committed pack exists')
  const pulled = await fetch(`${second.url}/v1/_packs/kept/1.0.0/archive`, { headers: { authorization: auth } })
  t.equal(pulled.status, 200)
  t.equal(Buffer.from(await pulled.arrayBuffer()).length > 0, true)
  const root = join(cwd, 'data', 'blobs', 'sha256')
  for (const dir of readdirSync(root)) {
    for (const name of readdirSync(join(root, dir))) {
      t.equal(createHash('sha256').update(readFileSync(join(root, dir, name))).digest('hex'), name, 'every visible blob is complete')
    }
  }
  second.child.kill('SIGTERM')
  await second.exited
})
