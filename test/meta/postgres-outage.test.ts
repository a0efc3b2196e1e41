// PostgreSQL goes away under load and comes back: while 8 clients push packs, the server is
// killed (an immediate shutdown: a crash as far as its clients can tell) and restarted. Every
// push is either acknowledged and there afterwards, byte for byte, or refused with a 503 that
// names the database; /health says DOWN meanwhile; the registry needs no restart.

import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp } from '../../src/app.js'
import { ADMIN, testConfig } from '../helpers.js'
import { archive, packFiles, push } from '../pack-fixtures.js'
import { freshDatabase, privatePostgres, restartPostgres, stopPostgres } from '../postgres.js'

t.setTimeout(120_000)

t.test('PostgreSQL stops while 8 clients push: nothing acknowledged is lost, refusals are 503s, the server recovers by itself', async (t) => {
  const server = await privatePostgres(t, { acknowledgedDurable: true })
  const url = await freshDatabase(t, server)
  const app = await buildApp(testConfig(t, { database: { url, pool: 8, connecttimeout: '2s' } }))
  t.teardown(() => app.close())

  const acknowledged: Array<{ name: string; version: string; digest: string }> = []
  const refusals: string[] = []
  const unexpected: string[] = []
  let running = true
  const client = async (c: number) => {
    for (let i = 0; running; i++) {
      const name = `outage${c}`
      const version = `1.${i}.0`
      const res = await push(app, await archive(packFiles({ name, version })))
      if (res.statusCode === 201) acknowledged.push({ name, version, digest: (res.json() as { digest: string }).digest })
      else if (res.statusCode === 503) {
        refusals.push((res.json() as { errors: Array<{ message: string }> }).errors[0]?.message ?? '')
        await sleep(50)
      } else unexpected.push(`${name} ${version}: ${res.statusCode} ${res.body}`)
    }
  }
  const clients = Array.from({ length: 8 }, (_, c) => client(c))
  await sleep(1000)
  const before = acknowledged.length
  await stopPostgres(server, 'immediate')
  await sleep(1000)
  const health = await app.inject({ method: 'GET', url: '/health' })
  await restartPostgres(server)
  await sleep(1500)
  running = false
  await Promise.all(clients)

  t.ok(before > 0, `pushes were acknowledged before the outage (${before})`)
  t.ok(acknowledged.length > before, `and after it, without a restart (${acknowledged.length - before} more)`)
  t.ok(refusals.length > 0, `pushes during the outage were refused (${refusals.length})`)
  t.match(refusals[0] ?? '', /metadata database \(PostgreSQL at 127\.0\.0\.1:\d+\)/, 'naming the database')
  t.same(unexpected, [], 'nothing but 201 and 503')
  t.equal(health.statusCode, 503)
  t.match((health.json() as { reason: string }).reason, /database unavailable: .*PostgreSQL at/)
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'healthy again')

  const lost: string[] = []
  for (const { name, version, digest } of acknowledged) {
    const res = await app.inject({ method: 'GET', url: `/v1/_packs/${name}/${version}`, headers: { authorization: ADMIN } })
    if (res.statusCode !== 200 || !res.body.includes(digest)) lost.push(`${name}:${version} (${res.statusCode})`)
  }
  t.same(lost, [], `all ${acknowledged.length} acknowledged pushes are there`)
})

t.test('a PostgreSQL that stops answering (frozen, not down): /health says so within seconds, and recovers', async (t) => {
  const server = await privatePostgres(t)
  const url = await freshDatabase(t, server)
  const app = await buildApp(testConfig(t, { database: { url, connecttimeout: '2s' } }))
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
  // Every process of the server: its postmaster and its children, the backend serving the pool's connection among them.
  const postmaster = Number(readFileSync(join(server.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0])
  const children = execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' }).trim().split('\n').map(Number)
  const pids = [postmaster, ...children]
  for (const pid of pids) process.kill(pid, 'SIGSTOP')
  try {
    const started = Date.now()
    const health = await app.inject({ method: 'GET', url: '/health' })
    t.equal(health.statusCode, 503)
    t.match((health.json() as { reason: string }).reason, /database unavailable: .*PostgreSQL at/)
    t.ok(Date.now() - started < 9000, `answered within ${Date.now() - started} ms`)
  } finally {
    for (const pid of pids) process.kill(pid, 'SIGCONT')
  }
  let healthy = false
  for (let i = 0; i < 50 && !healthy; i++) {
    healthy = (await app.inject({ method: 'GET', url: '/health' })).statusCode === 200
    if (!healthy) await sleep(100)
  }
  t.ok(healthy, 'healthy again once it answers')
})
