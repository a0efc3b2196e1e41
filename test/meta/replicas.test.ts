// The replicas table's owner (src/meta/replicas.ts) and the heartbeat that writes through it
// (src/replica-presence.ts), on SQLite and on PostgreSQL alike, with a clock the tests move: a
// beat writes the row and then refreshes last_seen, the state is live within three beats and gone
// after, rows gone for a day are deleted by the next beat, another process writing under the same
// id is reported (and a recent row at start is taken as a restart, not as another process), a
// beat on a PostgreSQL server that cannot answer is logged once and never thrown, and no beat
// runs after stop().

import t from 'tap'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import type { Database } from '../../src/meta/database.js'
import { openDatabase } from '../../src/meta/db.js'
import { type ReplicaRecord, ReplicaTable, replicaState } from '../../src/meta/replicas.js'
import { SqliteDatabase } from '../../src/meta/sqlite.js'
import { FORGET_AFTER_MS, HEARTBEAT_MS, LIVE_BEATS, ReplicaPresence } from '../../src/replica-presence.js'
import { freshDatabase } from '../postgres.js'
import { tempDir, type Teardown } from '../system.js'

/** Each engine's registry database; `closedByTest`: the test closes it itself. */
const engines: Array<{ name: string; open: (t: Teardown, closedByTest?: boolean) => Promise<Database> }> = [
  {
    name: 'sqlite',
    async open(t, closedByTest = false) {
      const db = await SqliteDatabase.open(join(tempDir(t), 'registry.db'))
      if (!closedByTest) t.teardown(() => db.close())
      return db
    },
  },
  {
    name: 'postgres',
    async open(t, closedByTest = false) {
      const url = await freshDatabase(t)
      const db = await openDatabase({ kind: 'postgres', url, pool: 4, connectTimeoutMs: 10_000, tls: { ca: null, cert: null, key: null } })
      if (!closedByTest) t.teardown(() => db.close())
      return db
    },
  },
]

const LIVE_WITHIN = LIVE_BEATS * HEARTBEAT_MS
const OPTIONS = { liveWithinMs: LIVE_WITHIN, forgetAfterMs: FORGET_AFTER_MS }
const T0 = Date.UTC(2026, 11, 7, 12, 0, 0)

/** A logger whose lines the test reads. */
function capturedLog(): { log: pino.Logger; lines: () => Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as { level: string; msg: string })
      done()
    },
  })
  return { log: pino({ level: 'info', formatters: { level: (label) => ({ level: label }) } }, stream), lines: () => lines }
}

const until = async (ok: () => boolean | Promise<boolean>, what: string) => {
  const deadline = Date.now() + 10_000
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

t.test('the state: live within the window, gone after', async (t) => {
  t.equal(replicaState({ last_seen: T0 }, T0 + LIVE_WITHIN, LIVE_WITHIN), 'live')
  t.equal(replicaState({ last_seen: T0 }, T0 + LIVE_WITHIN + 1, LIVE_WITHIN), 'gone')
})

for (const engine of engines) {
  t.test(engine.name, async (t) => {
    t.test('a beat writes the row, the next refreshes last_seen; the state follows the clock', async (t) => {
      const table = new ReplicaTable(await engine.open(t))
      const a: ReplicaRecord = { id: 'host-a:5000', address: 'http://host-a:5000', version: '1.2.3', startedAt: T0 }
      t.same(await table.beat(a, T0, OPTIONS), { other: null, forgotten: 0 }, 'a first beat: nobody else, nothing to forget')
      t.same(await table.list(T0, LIVE_WITHIN), [{ id: a.id, address: a.address, version: '1.2.3', started_at: T0, last_seen: T0, state: 'live' }])
      await table.beat(a, T0 + HEARTBEAT_MS, OPTIONS)
      const b: ReplicaRecord = { id: 'host-b:5000', address: 'https://10.0.0.8', version: '1.2.4', startedAt: T0 + 1000 }
      await table.beat(b, T0 + HEARTBEAT_MS + 2000, OPTIONS)
      const later = T0 + HEARTBEAT_MS + LIVE_WITHIN + 1
      t.same(
        (await table.list(later, LIVE_WITHIN)).map((r) => [r.id, r.started_at, r.last_seen, r.state]),
        [
          [a.id, T0, T0 + HEARTBEAT_MS, 'gone'],
          [b.id, T0 + 1000, T0 + HEARTBEAT_MS + 2000, 'live'],
        ],
        'a is gone three beats after its last, b (seen later) still live; listed by id',
      )
      t.same(await table.countByState(later, LIVE_WITHIN), { live: 1, gone: 1 })
      t.same(await table.countByState(T0 + HEARTBEAT_MS + 2000, LIVE_WITHIN), { live: 2, gone: 0 })
    })

    t.test('rows gone for more than a day are deleted by a beat, younger ones kept', async (t) => {
      const table = new ReplicaTable(await engine.open(t))
      const record = (id: string): ReplicaRecord => ({ id, address: `http://${id}`, version: '1', startedAt: T0 })
      await table.beat(record('old'), T0, OPTIONS)
      await table.beat(record('recent'), T0 + 1000, OPTIONS)
      const now = T0 + FORGET_AFTER_MS + 500
      const { forgotten } = await table.beat(record('me'), now, OPTIONS)
      t.equal(forgotten, 1)
      t.same((await table.list(now, LIVE_WITHIN)).map((r) => [r.id, r.state]), [
        ['me', 'live'],
        ['recent', 'gone'],
      ])
    })

    t.test('another process writing under the same id is reported, a long-dead one is not', async (t) => {
      const table = new ReplicaTable(await engine.open(t))
      const first: ReplicaRecord = { id: 'shared', address: 'http://one:5000', version: '1', startedAt: T0 }
      const second: ReplicaRecord = { ...first, address: 'http://two:5000', startedAt: T0 + 10 }
      await table.beat(first, T0, OPTIONS)
      t.same((await table.beat(second, T0 + 100, OPTIONS)).other, { id: 'shared', address: 'http://one:5000', version: '1', started_at: T0, last_seen: T0 })
      t.match((await table.beat(first, T0 + 200, OPTIONS)).other, { address: 'http://two:5000', started_at: T0 + 10 }, 'each sees the other')
      t.equal((await table.beat(first, T0 + 300, OPTIONS)).other, null, 'its own row is no one else')
      const later = T0 + 300 + LIVE_WITHIN + 1
      t.equal((await table.beat({ ...first, startedAt: later }, later, OPTIONS)).other, null, 'a row not seen for three beats is a process gone (a restart), not another one')
    })

    t.test('the heartbeat: written at start and every interval, another process warned of, stopped cleanly', async (t) => {
      const db = await engine.open(t)
      const table = new ReplicaTable(db)
      let now = T0
      const clock = () => now
      const one = capturedLog()
      const a = new ReplicaPresence(table, { id: 'r1', address: 'http://r1:5000', version: '9.9.9', intervalMs: 20, now: clock }, one.log)
      t.teardown(() => a.stop())
      await a.start()
      t.same(await a.list(), [{ id: 'r1', address: 'http://r1:5000', version: '9.9.9', started_at: T0, last_seen: T0, state: 'live' }], 'written at start')
      now = T0 + 1000
      await until(async () => (await a.list())[0]?.last_seen === T0 + 1000, 'the next beat')
      t.same(await a.counts(), { live: 1, gone: 0 })
      t.equal(a.liveWithinMs, 60, 'three beats of 20 ms')

      // A second process configured with the same id.
      const two = capturedLog()
      // Within a's three beats of 20 ms on the test's clock.
      now = T0 + 1020
      const b = new ReplicaPresence(table, { id: 'r1', address: 'http://r1-bis:5000', version: '9.9.9', intervalMs: 20, now: clock }, two.log)
      t.teardown(() => b.stop())
      await b.start()
      t.match(two.lines(), [{ level: 'info', msg: /took over its record.*a restart/ }], 'at start a recent row may be its own predecessor: said, not warned')
      await until(() => one.lines().some((l) => l.level === 'warn') && two.lines().some((l) => l.level === 'warn'), 'both to warn')
      t.match(one.lines().find((l) => l.level === 'warn'), { msg: /another process runs with replica\.id r1 \(started at 2026-12-07T12:00:01\.020Z.*at http:\/\/r1-bis:5000\)/ })
      t.match(two.lines().find((l) => l.level === 'warn'), { msg: /another process runs with replica\.id r1 \(started at 2026-12-07T12:00:00\.000Z.*at http:\/\/r1:5000\)/ })
      const warnings = () => one.lines().filter((l) => l.level === 'warn').length
      const before = warnings()
      await new Promise((resolve) => setTimeout(resolve, 100))
      t.equal(warnings(), before, 'warned once while the other keeps writing, not at every beat')
      await b.stop()
      await a.stop()
      const stoppedAt = (await table.list(now, 60))[0]?.last_seen
      await new Promise((resolve) => setTimeout(resolve, 60))
      t.equal((await table.list(now, 60))[0]?.last_seen, stoppedAt, 'no beat after stop()')
    })

    // On PostgreSQL, where the database is a server that can go away under a running replica.
    if (engine.name === 'postgres') t.test('a beat on a database that cannot answer is logged once and never thrown', async (t) => {
      const db = await engine.open(t, true)
      const table = new ReplicaTable(db)
      await db.close()
      const { log, lines } = capturedLog()
      const presence = new ReplicaPresence(table, { id: 'r1', address: 'http://r1:5000', version: '1', intervalMs: 10 }, log)
      await presence.start()
      await new Promise((resolve) => setTimeout(resolve, 80))
      await presence.stop()
      t.equal(lines().length, 1, 'one line for the several beats that failed')
      t.match(lines()[0], { level: 'warn', msg: 'replica r1: writing its heartbeat failed; trying again every 0.01s' })
    })
  })
}
