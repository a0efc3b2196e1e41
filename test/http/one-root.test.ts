// One data directory, one owner, with real server processes: a second server on the same root,
// or on another root with the same database.path, refuses to start and names the first; the lock goes with a clean shutdown and a stale one
// (its process gone) is taken over; the operator commands still work beside a running server;
// and REGISTRY_STORAGE=inmemory writes nothing to disk and warns about nothing.

import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { basic, runBin, runCliHere, startServer, tempDir } from '../helpers.js'

t.test('a second server on the same root refuses to start, naming the first; the lock goes with it', async (t) => {
  const cwd = tempDir(t)
  const env = { REGISTRY_HTTP_ADDR: '127.0.0.1:0' }
  const first = await startServer(t, [], env, cwd)
  const lockFile = join(cwd, 'data', 'packyard.lock')
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as Record<string, unknown>
  t.match(lock, { pid: first.child.pid, host: hostname(), purpose: 'serve on 127.0.0.1:0' })
  t.ok(existsSync(join(cwd, 'data', 'htpasswd')), 'the users are under the root')

  const second = await runBin(['serve'], { cwd, env })
  t.equal(second.code, 1)
  t.match(
    second.stderr,
    `Error: another Packyard process is using the storage root ./data: serve on 127.0.0.1:0, pid ${first.child.pid} on host ${hostname()}, started ${String(lock.startedAt)}. Stop it first`,
  )
  t.equal(second.stdout.includes('"listening"'), false)
  t.equal((await fetch(`${first.url}/health`)).status, 200, 'the first one is unharmed')

  // The operator commands that are safe beside a server do not need the lock.
  const gc = await runCliHere(['garbage-collect'], { env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(cwd, 'data') } })
  t.equal(gc.code, 0, gc.stderr)
  const fsck = await runCliHere(['fsck'], { env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(cwd, 'data') } })
  t.equal(fsck.code, 0, fsck.stderr)

  first.child.kill('SIGTERM')
  t.equal(await first.exited, 0)
  t.notOk(existsSync(lockFile), 'released on shutdown')
  const third = await startServer(t, [], env, cwd)
  t.equal((await fetch(`${third.url}/health`)).status, 200)
  third.child.kill('SIGTERM')
  await third.exited
})

t.test('two roots, one database.path: the second server refuses naming the database; operator commands still work beside the first', async (t) => {
  const cwd = tempDir(t)
  const database = join(cwd, 'shared', 'registry.db')
  const envOf = (root: string) => ({ REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(cwd, root), REGISTRY_DATABASE_PATH: database, REGISTRY_AUTH_HTPASSWD_PATH: join(cwd, 'htpasswd') })
  const first = await startServer(t, [], envOf('one'), cwd)
  t.match(JSON.parse(readFileSync(`${database}.lock`, 'utf8')), { pid: first.child.pid, purpose: 'serve on 127.0.0.1:0' }, 'the database has a lock of its own')

  const second = await runBin(['serve'], { cwd, env: envOf('two') })
  t.equal(second.code, 1)
  t.match(second.stderr, `Error: another Packyard process is using the database ${database}: serve on 127.0.0.1:0, pid ${first.child.pid} on host ${hostname()}`)
  t.match(second.stderr, 'give this one another database.path')
  t.notOk(existsSync(join(cwd, 'two', 'packyard.lock')), 'the second let go of its root')

  const env = envOf('one')
  for (const args of [['garbage-collect'], ['fsck'], ['backup', join(cwd, 'backup')]]) {
    const run = await runCliHere(args, { env })
    t.equal(run.code, 0, `${args[0]} beside the server: ${run.stderr}`)
  }
  first.child.kill('SIGTERM')
  t.equal(await first.exited, 0)
  t.notOk(existsSync(`${database}.lock`), 'released on shutdown')
  const now = await startServer(t, [], envOf('two'), cwd)
  t.equal((await fetch(`${now.url}/health`)).status, 200, 'free once the first is gone')
  now.child.kill('SIGTERM')
  await now.exited
})

t.test('a lock whose process is gone (killed) is taken over, and the log says so', async (t) => {
  const cwd = tempDir(t)
  const env = { REGISTRY_HTTP_ADDR: '127.0.0.1:0' }
  const first = await startServer(t, [], env, cwd)
  first.child.kill('SIGKILL')
  await first.exited
  const lockFile = join(cwd, 'data', 'packyard.lock')
  t.ok(existsSync(lockFile), 'a killed server leaves its lock')
  const next = await startServer(t, [], env, cwd)
  const line = next.logs().find((l) => String(l.msg).startsWith('took over the lock'))
  t.match(line, { msg: 'took over the lock of ./data from a server that is gone', previous: { pid: first.child.pid } })
  t.match(JSON.parse(readFileSync(lockFile, 'utf8')), { pid: next.child.pid })
  next.child.kill('SIGTERM')
  await next.exited
})

t.test('a live process that is not Packyard under a recorded pid does not hold the root', async (t) => {
  const cwd = tempDir(t)
  const sleeper = spawn('sleep', ['30'])
  t.teardown(() => sleeper.kill())
  const data = join(cwd, 'data')
  mkdirSync(data)
  writeFileSync(join(data, 'packyard.lock'), JSON.stringify({ pid: sleeper.pid, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', purpose: 'serve on :5000', token: 'old' }))
  const server = await startServer(t, [], { REGISTRY_HTTP_ADDR: '127.0.0.1:0' }, cwd)
  t.ok(server.logs().some((l) => String(l.msg).startsWith('took over the lock')))
  server.child.kill('SIGTERM')
  await server.exited
})

t.test('REGISTRY_STORAGE=inmemory: nothing on disk, no warning about its own key, a working admin', async (t) => {
  const cwd = tempDir(t)
  const server = await startServer(t, [], { REGISTRY_HTTP_ADDR: '127.0.0.1:0', REGISTRY_STORAGE: 'inmemory' }, cwd)
  t.same(readdirSync(cwd), [], 'no htpasswd, no lock, no data folder')
  const logs = server.logs()
  t.notOk(logs.some((l) => String(l.msg).includes('accepted for compatibility')), 'no compatibility warning')
  const line = logs.find((l) => String(l.msg).startsWith('in-memory storage without auth.htpasswd.path'))
  const password = /password "([^"]+)"/.exec(String(line?.msg))?.[1] as string
  t.ok(password, 'the generated password is printed')
  const ok = await fetch(`${server.url}/v1/`, { headers: { authorization: basic('admin', password) } })
  t.same(await ok.json(), { user: 'admin', canPush: true })
  t.equal((await fetch(`${server.url}/v1/`, { headers: { authorization: basic('admin', 'guess') } })).status, 401)
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
  t.same(readdirSync(cwd), [], 'still nothing after shutdown')
})
