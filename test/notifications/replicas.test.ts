// Notification delivery with several replicas on one PostgreSQL database: two Notifications
// instances, each on its own connection pool as two processes would be, sending to one real
// receiver (a node:http server). Events written through either are delivered once each, in seq
// order, by whichever holds the endpoint; when the holder stops, or PostgreSQL drops its lock's
// connection, delivery goes on within seconds; the place in the database never moves backwards.
// The outbox's own rules on both engines: an advance never moves a place back, says when
// another replica moved it, and removes only rows every endpoint sent to is past. And one
// instance on SQLite delivers as before.

import t, { type Test } from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Client } from 'pg'
import type { NotificationEndpoint } from '../../src/config/notifications.js'
import { type Database, writeTransaction } from '../../src/meta/database.js'
import { attachOutbox, OutboxReader, recordNotification } from '../../src/meta/outbox.js'
import { PostgresDatabase } from '../../src/meta/postgres.js'
import { SqliteDatabase } from '../../src/meta/sqlite.js'
import { type DistributionEvent, EventRecorder } from '../../src/notifications/events.js'
import { type EndpointStatus, type NotificationLog, Notifications } from '../../src/notifications/sender.js'
import { tempDir } from '../helpers.js'
import { freshDatabase } from '../postgres.js'

/** The first number of Database.exclusively's advisory locks on PostgreSQL ('pkyx'), as pg_locks shows it (classid). */
const EXCLUSIVE_CLASSID = 0x706b7978

/** A receiver recording the events of every request it accepts, in the order received. */
class Receiver {
  readonly events: DistributionEvent[] = []
  /** false: requests are left unanswered (and what they carry is not recorded). */
  answering = true

  async start(t: Test): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        if (!this.answering) return
        this.events.push(...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: DistributionEvent[] }).events)
        res.writeHead(200).end()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(resolve))
    })
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`
  }

  tags(): string[] {
    return this.events.map((e) => e.target.tag ?? '')
  }

  async waitFor(count: number, ms: number): Promise<void> {
    const until = Date.now() + ms
    while (this.events.length < count) {
      if (Date.now() > until) throw new Error(`${this.events.length} events received in ${ms} ms, waited for ${count}`)
      await sleep(10)
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function endpoint(url: string, name = 'ci'): NotificationEndpoint {
  return { name, url, headers: {}, timeoutMs: 2000, threshold: 3, backoffMs: 50, ignoredMediaTypes: [], ignoredActions: [], disabled: false, format: 'distribution' }
}

/** A log keeping its messages, so a test can tell what the senders said. */
function memoryLog(): NotificationLog & { messages: string[] } {
  const messages: string[] = []
  const keep = (_: object, message: string) => void messages.push(message)
  return { messages, info: keep, warn: keep, error: keep }
}

interface Replica {
  db: Database
  notifications: Notifications
  log: ReturnType<typeof memoryLog>
  /** Stops the senders and closes the pool, as closing the app does. */
  close(): Promise<void>
}

async function openReplica(t: Test, db: Database, endpoints: NotificationEndpoint[]): Promise<Replica> {
  const log = memoryLog()
  const notifications = await Notifications.open(db, { endpoints, includeReferences: false, retention: { maxAgeMs: 3600_000, maxEvents: 1_000_000 }, namespace: 'packs', port: 5000 }, log)
  notifications.start()
  let open = true
  const close = async () => {
    if (!open) return
    open = false
    await notifications.stop()
    await db.close()
  }
  t.teardown(close)
  return { db, notifications, log, close }
}

function postgresReplica(t: Test, url: string, endpoints: NotificationEndpoint[]): Promise<Replica> {
  return PostgresDatabase.open({ connectionString: url, max: 4, connectionTimeoutMillis: 5000 }, 'test').then((db) => openReplica(t, db, endpoints))
}

/** A push event of `tag`, written as a change writes it: inside its own write transaction. */
async function push(to: Replica | Database, tag: string): Promise<void> {
  const db = 'notifications' in to ? to.db : to
  await writeTransaction(db, () =>
    recordNotification(db, { action: 'push', actor: 'admin', repository: { kind: 'oci', name: 'images/app' }, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 10, digest: `sha256:${'0'.repeat(64)}`, tag }),
  )
}

async function status(replica: Replica, name = 'ci'): Promise<EndpointStatus> {
  return (await replica.notifications.status()).find((s) => s.name === name) as EndpointStatus
}

async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<number> {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`waited ${ms} ms for ${what}`)
    await sleep(20)
  }
  return Date.now() - started
}

/**
 * Reads the endpoint's place every 20 ms on a connection of its own, for as long as the test
 * runs: `backwards` lists every move back it saw.
 */
async function watchPlace(t: Test, url: string, name = 'ci'): Promise<{ backwards: string[] }> {
  const client = new Client({ connectionString: url })
  await client.connect()
  const seen = { backwards: [] as string[] }
  let last = -1
  let running = true
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query<{ seq: string }>('SELECT delivered_seq AS seq FROM notification_endpoints WHERE name = $1', [name])
      const seq = rows[0] === undefined ? -1 : Number(rows[0].seq)
      if (seq < last) seen.backwards.push(`${last} -> ${seq}`)
      last = Math.max(last, seq)
      await sleep(20)
    }
  })()
  t.teardown(async () => {
    running = false
    await loop
    await client.end()
  })
  return seen
}

/** The backends holding one of Database.exclusively's locks now. */
async function lockHolders(url: string): Promise<number[]> {
  const client = new Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ pid: number }>(
      "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = $1 AND d.datname = current_database()",
      [EXCLUSIVE_CLASSID],
    )
    return rows.map((r) => r.pid)
  } finally {
    await client.end()
  }
}

function range(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`)
}

t.test('two replicas on one PostgreSQL database: one delivers, every event once, in order, whichever replica wrote it', async (t) => {
  const receiver = new Receiver()
  const hook = await receiver.start(t)
  const url = await freshDatabase(t)
  const a = await postgresReplica(t, url, [endpoint(hook)])
  const b = await postgresReplica(t, url, [endpoint(hook)])
  const place = await watchPlace(t, url)
  await until('one replica holding the endpoint, the other standing by', async () => [(await status(a)).state, (await status(b)).state].filter((s) => s === 'standby').length === 1, 10_000)

  // One after the other, alternating replicas: seq order is this order.
  const tags = range('t', 30)
  for (const [i, tag] of tags.entries()) await push(i % 2 === 0 ? a : b, tag)
  await receiver.waitFor(tags.length, 10_000)
  t.same(receiver.tags(), tags, 'every event once, in the order written, those written on the standby replica too')

  // At once, through both.
  const burst = range('burst', 40)
  await Promise.all(burst.map((tag, i) => push(i % 2 === 0 ? a : b, tag)))
  await receiver.waitFor(tags.length + burst.length, 10_000)
  await sleep(1500)
  t.equal(receiver.events.length, tags.length + burst.length, 'no event delivered twice')
  t.same(new Set(receiver.tags().slice(tags.length)), new Set(burst), 'the burst, each once')
  t.equal(new Set(receiver.events.map((e) => e.id)).size, receiver.events.length, 'no id twice')
  t.same(place.backwards, [], 'the place never moved backwards')

  const states = [await status(a), await status(b)]
  t.same(states.map((s) => s.pending), [0, 0], 'both replicas show nothing pending, from the place in the database')
  const [holder, standby] = states[0]?.state === 'standby' ? [states[1], states[0]] : [states[0], states[1]]
  t.equal(holder?.state, 'idle')
  t.equal(holder?.delivered, tags.length + burst.length, 'the holder delivered them all')
  t.equal(standby?.state, 'standby')
  t.equal(standby?.delivered, 0)
  t.same(await lockHolders(url).then((pids) => pids.length), 1, 'one lock held')
})

t.test('the holding replica stops with events undelivered: the other takes over within seconds and delivers what remains', async (t) => {
  const receiver = new Receiver()
  const hook = await receiver.start(t)
  const url = await freshDatabase(t)
  const a = await postgresReplica(t, url, [endpoint(hook)])
  await until('a holding the endpoint', async () => (await status(a)).state === 'idle' && (await lockHolders(url)).length === 1, 10_000)
  const b = await postgresReplica(t, url, [endpoint(hook)])
  await until('b standing by', async () => (await status(b)).state === 'standby', 10_000)
  const place = await watchPlace(t, url)

  const first = range('before', 5)
  for (const tag of first) await push(a, tag)
  await receiver.waitFor(first.length, 10_000)
  // The receiver stops answering: a's POST hangs until a stops and abandons it.
  receiver.answering = false
  const held = range('held', 5)
  for (const tag of held) await push(b, tag)
  await until('a posting the held events', async () => (await status(a)).state === 'delivering', 10_000)
  await a.close()
  receiver.answering = true
  const after = range('after', 5)
  for (const tag of after) await push(b, tag)
  const started = Date.now()
  await receiver.waitFor(first.length + held.length + after.length, 10_000)
  const took = Date.now() - started
  t.ok(took < 6000, `b delivered what remained ${took} ms after a stopped`)
  t.same(receiver.tags(), [...first, ...held, ...after], 'every event once, in order: the abandoned batch sent again by b')
  t.same(place.backwards, [], 'the place never moved backwards')
  const s = await status(b)
  t.equal(s.state, 'idle')
  t.equal(s.pending, 0)
  t.equal(s.delivered, held.length + after.length)
})

t.test("PostgreSQL drops the holder's lock connection: delivery goes on within seconds, in order", async (t) => {
  const receiver = new Receiver()
  const hook = await receiver.start(t)
  const url = await freshDatabase(t)
  const a = await postgresReplica(t, url, [endpoint(hook)])
  await until('a holding the endpoint', async () => (await status(a)).state === 'idle' && (await lockHolders(url)).length === 1, 10_000)
  const b = await postgresReplica(t, url, [endpoint(hook)])
  await until('b standing by', async () => (await status(b)).state === 'standby', 10_000)
  const place = await watchPlace(t, url)

  const first = range('before', 5)
  for (const tag of first) await push(b, tag)
  await receiver.waitFor(first.length, 10_000)
  const [pid] = await lockHolders(url)
  const admin = new Client({ connectionString: url })
  await admin.connect()
  t.teardown(() => admin.end())
  await admin.query('SELECT pg_terminate_backend($1)', [pid])
  const killed = Date.now()
  const after = range('after', 10)
  for (const [i, tag] of after.entries()) await push(i % 2 === 0 ? a : b, tag)
  const retaken = await until('one replica holding the endpoint again, on a live connection', async () => {
    const pids = await lockHolders(url)
    return pids.length === 1 && pids[0] !== pid
  }, 10_000)
  t.ok(retaken < 5000, `the endpoint held again ${retaken} ms after the kill`)
  t.ok(a.log.messages.some((m) => m.includes("let go of ci's turn")), 'a noticed it lost the lock and said so')
  const later = range('later', 10)
  for (const [i, tag] of later.entries()) await push(i % 2 === 0 ? a : b, tag)
  await receiver.waitFor(first.length + after.length + later.length, 10_000)
  t.ok(Date.now() - killed < 8000, `all delivered ${Date.now() - killed} ms after the kill`)
  await sleep(1500)
  t.same(receiver.tags(), [...first, ...after, ...later], 'every event once, in order')
  t.same(place.backwards, [], 'the place never moved backwards')
  const states = [(await status(a)).state, (await status(b)).state].sort()
  t.same(states, ['idle', 'standby'], 'one replica delivers, the other stands by')
})

t.test('a holder that finds its place moved by another replica (it held the lock unknowingly lost) ends its turn and resumes from the database', async (t) => {
  const receiver = new Receiver()
  const hook = await receiver.start(t)
  const url = await freshDatabase(t)
  const a = await postgresReplica(t, url, [endpoint(hook)])
  await until('a holding the endpoint', async () => (await status(a)).state === 'idle' && (await lockHolders(url)).length === 1, 10_000)
  receiver.answering = false
  const tags = range('x', 3)
  for (const tag of tags) await push(a, tag)
  await until('a posting', async () => (await status(a)).state === 'delivering', 10_000)
  // Meanwhile another replica delivered the first two and moved the place.
  const other = await PostgresDatabase.open({ connectionString: url, max: 1 }, 'test')
  t.teardown(() => other.close())
  const outbox = new OutboxReader(other)
  const last = await outbox.last()
  t.equal(await outbox.advance('ci', last - 3, last - 1, new Set()), true)
  receiver.answering = true
  await until('a ending its turn', async () => a.log.messages.some((m) => m.includes("another replica moved ci's place")), 10_000)
  // The rows the other replica delivered left the outbox with its advance: a's retry sends the third only.
  t.same(receiver.tags(), ['x2'], 'what the other replica delivered is not sent again')
  t.equal(await outbox.placeOf('ci'), last, 'the place is past the batch')
  await push(a, 'x3')
  await receiver.waitFor(2, 10_000)
  await sleep(1500)
  t.same(receiver.tags(), ['x2', 'x3'], 'a, holding again, resumed from the place in the database')
})

t.test('an advance never moves a place back, says when another replica moved it, and removes only rows every endpoint sent to is past', async (t) => {
  const engines: Array<[string, () => Promise<Database>]> = [
    ['sqlite', () => SqliteDatabase.open(join(tempDir(t), 'registry.db'))],
    ['postgres', async () => PostgresDatabase.open({ connectionString: await freshDatabase(t), max: 2 }, 'test')],
  ]
  for (const [engine, open] of engines) {
    const db = await open()
    t.teardown(() => db.close())
    const outbox = new OutboxReader(db)
    await outbox.start([
      { name: 'ci', disabled: false },
      { name: 'chat', disabled: false },
      { name: 'off', disabled: true },
    ])
    // Rows to trim, written as changes write them, with no sender reading them.
    attachOutbox(db, new EventRecorder({ namespace: 'packs', includeReferences: false, port: 5000, wake: () => {} }))
    for (const tag of range('r', 10)) await push(db, tag)
    const last = await outbox.last()
    const first = last - 9
    const notSent = new Set(['off'])
    const base = (await outbox.placeOf('ci')) as number
    t.equal(await outbox.advance('ci', base, first + 4, notSent), true, `${engine}: an advance from where the sender left it`)
    t.equal(await outbox.advance('ci', base, first + 2, notSent), false, `${engine}: an advance from a place that moved since says so`)
    t.equal(await outbox.placeOf('ci'), first + 4, `${engine}: and does not move the place back`)
    t.equal((await outbox.rowsAfter(0, 100)).length, 10, `${engine}: nothing removed while chat is behind`)
    t.equal(await outbox.advance('chat', base, first + 6, notSent), true)
    t.same((await outbox.rowsAfter(0, 100)).map((r) => r.seq), range('', 5).map((_, i) => first + 5 + i), `${engine}: the rows both are past removed, the disabled endpoint's place left out`)
    t.equal(await outbox.placeOf('off'), base, `${engine}: the disabled endpoint's place stays`)
  }
})

t.test('one instance on SQLite: every event once, in order, and the state as before', async (t) => {
  const receiver = new Receiver()
  const hook = await receiver.start(t)
  const replica = await openReplica(t, await SqliteDatabase.open(join(tempDir(t), 'registry.db')), [endpoint(hook)])
  const tags = range('t', 20)
  for (const tag of tags) await push(replica, tag)
  await receiver.waitFor(tags.length, 10_000)
  await sleep(300)
  t.same(receiver.tags(), tags)
  const s = await status(replica)
  t.equal(s.state, 'idle')
  t.equal(s.pending, 0)
  t.equal(s.delivered, tags.length)
})
