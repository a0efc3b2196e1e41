// What every metadata engine promises the table owners, checked once and run against both
// SQLite and PostgreSQL: placeholders, value types, transactions (commit, rollback, savepoints,
// serialized writers, reads that never see another request's open transaction), migrations
// (once, under a lock, a failing one rolled back, a newer schema refused) and what a broken
// connection becomes.

import t from 'tap'
import { join } from 'node:path'
import type { Database, Dialect, TransactionOptions } from '../../src/meta/database.js'
import { writeTransaction } from '../../src/meta/database.js'
import { type Migration, readMigrations } from '../../src/meta/migrations.js'
import { PostgresDatabase, translatePlaceholders } from '../../src/meta/postgres.js'
import { SqliteDatabase } from '../../src/meta/sqlite.js'
import { RegistryError } from '../../src/errors.js'
import { tempDir } from '../helpers.js'
import { freshDatabase, privatePostgres, restartPostgres, stopPostgres, postgresUrl } from '../postgres.js'
import type { Teardown } from '../system.js'

/** A tiny schema of its own, so the rules are tested apart from the registry's tables. */
const SCHEMA: Migration[] = [
  { version: 1, name: '0001-things.sql', sql: 'CREATE TABLE things (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE, size BIGINT NOT NULL, content BYTEA)' },
  { version: 2, name: '0002-counter.sql', sql: 'CREATE TABLE counter (n BIGINT NOT NULL); INSERT INTO counter (n) VALUES (0)' },
]
/** SQLite spells the byte column BLOB; the rest is the same SQL. */
const sqliteSchema = (migrations: Migration[]) => migrations.map((m) => ({ ...m, sql: m.sql.replace('BYTEA', 'BLOB') }))

interface Engine {
  name: string
  open(t: Teardown, migrations?: Migration[]): Promise<Database>
  /** Opens the same database again (another process would), or null for engines without one. */
  reopen?(migrations: Migration[]): Promise<Database>
}

function sqliteEngine(): Engine {
  let file = ''
  return {
    name: 'sqlite',
    async open(t, migrations = SCHEMA) {
      file = join(tempDir(t), 'registry.db')
      const db = await SqliteDatabase.open(file, sqliteSchema(migrations))
      t.teardown(() => db.close())
      return db
    },
    reopen: (migrations) => SqliteDatabase.open(file, sqliteSchema(migrations)),
  }
}

function postgresEngine(): Engine {
  let url = ''
  return {
    name: 'postgres',
    async open(t, migrations = SCHEMA) {
      url = await freshDatabase(t)
      const db = await PostgresDatabase.open({ connectionString: url, max: 4, connectionTimeoutMillis: 5000 }, 'test', migrations)
      t.teardown(() => db.close())
      return db
    },
    reopen: (migrations) => PostgresDatabase.open({ connectionString: url, max: 4, connectionTimeoutMillis: 5000 }, 'test', migrations),
  }
}

t.test('placeholders become $n outside quoted text', async (t) => {
  t.same(translatePlaceholders('SELECT ? , ?'), { text: 'SELECT $1 , $2', names: null })
  t.same(translatePlaceholders("SELECT '?' || ? || \"@x\""), { text: "SELECT '?' || $1 || \"@x\"", names: null })
  t.same(translatePlaceholders("SELECT '@a?' FROM t WHERE a = @a AND b = @b AND c = @a"), { text: "SELECT '@a?' FROM t WHERE a = $1 AND b = $2 AND c = $1", names: ['a', 'b'] })
  t.throws(() => translatePlaceholders('SELECT ? WHERE a = @a'), /mixes/)
})

for (const engine of [sqliteEngine(), postgresEngine()]) {
  t.test(engine.name, async (t) => {
    t.test('values come back as stored: numbers as numbers, bytes as a Buffer', async (t) => {
      const db = await engine.open(t)
      const big = 2 ** 40 + 7
      await db.prepare('INSERT INTO things (id, name, size, content) VALUES (?, ?, ?, ?)').run(1, 'a', big, Buffer.from([0, 1, 255]))
      await db.prepare('INSERT INTO things (id, name, size, content) VALUES (@id, @name, @size, @content)').run({ id: 2, name: 'b', size: 3, content: null })
      const row = await db.prepare<{ size: number; content: Buffer }>('SELECT size, content FROM things WHERE id = ?').get(1)
      t.equal(row?.size, big)
      t.same(row?.content, Buffer.from([0, 1, 255]))
      const totals = await db.prepare<{ n: number; bytes: number }>('SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM things').get()
      t.same(totals, { n: 2, bytes: big + 3 }, 'COUNT and SUM are numbers')
      t.equal(await db.prepare('SELECT 1 FROM things WHERE id = ?').get(99), undefined)
      t.same((await db.prepare('DELETE FROM things WHERE id > ?').run(0)).changes, 2)
      t.equal(db.prepare('SELECT 1 AS one'), db.prepare('SELECT 1 AS one'), 'one statement per SQL text')
      t.equal(db.dialect, engine.name)
    })

    t.test('a transaction commits all or nothing; a nested one is a savepoint', async (t) => {
      const db = await engine.open(t)
      const insert = db.prepare('INSERT INTO things (id, name, size) VALUES (?, ?, 0)')
      await writeTransaction(db, async () => {
        await insert.run(1, 'one')
        t.ok(db.inTransaction())
        await t.rejects(writeTransaction(db, async () => {
          await insert.run(2, 'two')
          await insert.run(3, 'one')
        }), 'the inner failure (a duplicate name) rolls back to its savepoint')
        await insert.run(4, 'four')
      })
      t.notOk(db.inTransaction())
      await t.rejects(writeTransaction(db, async () => {
        await insert.run(5, 'five')
        throw new Error('changed my mind')
      }), /changed my mind/)
      const ids = (await db.prepare<{ id: number }>('SELECT id FROM things ORDER BY id').all()).map((r) => r.id)
      t.same(ids, [1, 4])
    })

    t.test('writers are serialized: 40 concurrent read-then-write transactions never collide', async (t) => {
      const db = await engine.open(t)
      const read = db.prepare<{ n: number }>('SELECT n FROM counter')
      const write = db.prepare('UPDATE counter SET n = ?')
      await Promise.all(Array.from({ length: 40 }, (_, i) =>
        writeTransaction(db, async () => {
          const { n } = (await read.get()) as { n: number }
          // A pause inside the transaction: another writer would overwrite this one's read.
          await new Promise((resolve) => setImmediate(resolve))
          await write.run(n + 1)
        }, { durable: i % 2 === 0 }),
      ))
      t.equal((await read.get())?.n, 40)
    })

    t.test("reads outside a transaction never see another's uncommitted writes", async (t) => {
      const db = await engine.open(t)
      let seen: number | undefined
      let inside!: () => void
      const opened = new Promise<void>((resolve) => { inside = resolve })
      const writer = writeTransaction(db, async () => {
        await db.prepare('UPDATE counter SET n = 5').run()
        inside()
        await new Promise((resolve) => setTimeout(resolve, 50))
        throw new Error('rolled back')
      }).then(() => null, (err: unknown) => err)
      await opened
      seen = (await db.prepare<{ n: number }>('SELECT n FROM counter').get())?.n
      t.match(await writer, /rolled back/)
      t.equal(seen, 0, 'the read saw the committed value')
    })

    t.test('exclusively: work of one name runs one at a time, others are told at once', async (t) => {
      const db = await engine.open(t)
      // Another process on the same database where the engine has one (a replica, a command).
      const other = engine.name === 'postgres' && engine.reopen ? await engine.reopen(SCHEMA) : db
      if (other !== db) t.teardown(() => other.close())
      let release = () => {}
      const held = new Promise<void>((resolve) => {
        release = resolve
      })
      let started = () => {}
      const running = new Promise<void>((resolve) => {
        started = resolve
      })
      const first = db.exclusively('gc', async () => {
        started()
        await held
        return 'collected'
      })
      await running
      t.same(await other.exclusively('gc', async () => 'second'), { ran: false }, 'the same name elsewhere is refused while the first runs')
      t.same(await other.exclusively('purge', async () => 'purged'), { ran: true, value: 'purged' }, 'another name runs beside it')
      release()
      t.same(await first, { ran: true, value: 'collected' })
      t.same(await other.exclusively('gc', async () => 'again'), { ran: true, value: 'again' }, 'free once the first ended')
      await t.rejects(db.exclusively('gc', async () => {
        throw new Error('failed midway')
      }), /failed midway/)
      t.same(await other.exclusively('gc', async () => 'after a failure'), { ran: true, value: 'after a failure' }, 'a failure lets go too')
    })

    t.test('migrations: applied once, a failing one rolled back, a newer schema refused', async (t) => {
      const db = await engine.open(t)
      t.equal(await db.schemaVersion(), 2)
      await db.close()
      const again = await (engine.reopen as Engine['reopen'] & {})(SCHEMA)
      t.equal(await again.schemaVersion(), 2, 'reopening applies nothing twice')
      await again.close()
      const broken: Migration[] = [...SCHEMA, { version: 3, name: '0003-broken.sql', sql: 'CREATE TABLE half_done (x BIGINT); SELECT * FROM no_such_table' }]
      await t.rejects((engine.reopen as Engine['reopen'] & {})(broken), /no_such_table/)
      const after = await (engine.reopen as Engine['reopen'] & {})(SCHEMA)
      t.equal(await after.schemaVersion(), 2, 'the failed migration left version 2')
      await t.rejects(after.prepare('SELECT * FROM half_done').all(), /half_done/, 'and no table of it')
      await after.close()
      await t.rejects((engine.reopen as Engine['reopen'] & {})(SCHEMA.slice(0, 1)), /schema is version 2, newer than this Packyard knows \(1\)/)
    })

    t.test("the registry's own migrations apply", async (t) => {
      const db = await engine.open(t, readMigrations(engine.name as Dialect))
      t.equal(await db.schemaVersion(), readMigrations(db.dialect).length)
      await db.ping()
      await db.prepare("INSERT INTO events (at, actor, action, repository) VALUES (1, 'admin', 'push', 'nginx')").run()
      await t.rejects(db.prepare("UPDATE events SET actor = 'mallory'").run(), /append-only/, 'the event log is append-only')
      await t.rejects(db.prepare('DELETE FROM events').run(), /append-only/)
    })
  })
}

t.test('postgres: migrations started together by several processes run once', async (t) => {
  const url = await freshDatabase(t)
  const open = () => PostgresDatabase.open({ connectionString: url, max: 2 }, 'test', SCHEMA)
  const dbs = await Promise.all([open(), open(), open()])
  for (const db of dbs) t.equal(await db.schemaVersion(), 2)
  t.same((await dbs[0]!.prepare<{ n: number }>('SELECT COUNT(*) AS n FROM counter').get())?.n, 1, 'the seed row once')
  await Promise.all(dbs.map((db) => db.close()))
})

t.test('postgres: an unreachable server is a 503 naming it, and the pool recovers by itself', async (t) => {
  const server = await privatePostgres(t)
  const db = await PostgresDatabase.open({ connectionString: postgresUrl(server), max: 2, connectionTimeoutMillis: 2000 }, `127.0.0.1:${server.port}`, SCHEMA)
  t.teardown(() => db.close())
  await db.ping()
  // fast: a clean shutdown (the test server commits without waiting for the disk).
  await stopPostgres(server, 'fast')
  const err = await db.ping().then(() => null, (e: unknown) => e)
  t.ok(err instanceof RegistryError && err.code === 'UNAVAILABLE', `a RegistryError UNAVAILABLE (${String(err)})`)
  t.match((err as Error).message, new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${server.port}`))
  const tx = await writeTransaction(db, async () => 1).then(() => null, (e: unknown) => e)
  t.ok(tx instanceof RegistryError && tx.code === 'UNAVAILABLE', 'a transaction too')
  await restartPostgres(server)
  await db.ping()
  t.equal(await writeTransaction(db, async () => (await db.prepare<{ n: number }>('SELECT n FROM counter').get())?.n), 0, 'back without a restart')
})

t.test('postgres: a server that cannot be reached at start-up fails within the timeout, naming it', async (t) => {
  const server = await privatePostgres(t)
  await stopPostgres(server)
  const started = Date.now()
  const err = await PostgresDatabase.open({ connectionString: postgresUrl(server), connectionTimeoutMillis: 1000 }, `127.0.0.1:${server.port}`, SCHEMA).then(() => null, (e: unknown) => e)
  t.ok(err instanceof RegistryError, String(err))
  t.match(String((err as Error).message), /cannot be reached/)
  t.notMatch(String((err as Error).message), new RegExp(server.password), 'never the password')
  t.ok(Date.now() - started < 10_000)
})

t.test('postgres: each transaction waits only for what it names (TransactionOptions.serialize)', async (t) => {
  const url = await freshDatabase(t)
  const db = await PostgresDatabase.open({ connectionString: url, max: 8 }, 'test', SCHEMA)
  t.teardown(() => db.close())
  /** Holds a transaction of `serialize` open until the returned release is called. */
  const hold = async (serialize: NonNullable<TransactionOptions['serialize']>) => {
    let release!: () => void
    let opened!: () => void
    const isOpen = new Promise<void>((resolve) => { opened = resolve })
    const done = writeTransaction(db, async () => {
      opened()
      await new Promise<void>((resolve) => { release = resolve })
    }, { durable: true, serialize })
    await isOpen
    return async () => {
      release()
      await done
    }
  }
  /** Whether a transaction of `serialize` finishes within 300 ms. */
  const finishesAlongside = async (serialize: NonNullable<TransactionOptions['serialize']>) => {
    const tx = writeTransaction(db, async () => true, { durable: true, serialize })
    const quick = await Promise.race([tx, new Promise<false>((resolve) => setTimeout(() => resolve(false), 300))])
    return { quick, tx }
  }

  let release = await hold('writes')
  let other = await finishesAlongside('blobs')
  t.equal(other.quick, true, 'blob bookkeeping does not wait for a write')
  other = await finishesAlongside('writes')
  t.equal(other.quick, false, 'another write does')
  await release()
  await other.tx

  release = await hold('blobs')
  t.equal((await finishesAlongside('blobs')).quick, true, 'blob bookkeeping of two requests overlaps')
  other = await finishesAlongside('collection')
  t.equal(other.quick, false, "garbage collection's decision waits for blob bookkeeping")
  await release()
  await other.tx

  release = await hold('collection')
  other = await finishesAlongside('blobs')
  t.equal(other.quick, false, "and blob bookkeeping for garbage collection's decision")
  await release()
  await other.tx

  release = await hold({ key: 'owner-a' })
  t.equal((await finishesAlongside({ key: 'owner-b' })).quick, true, 'another key does not wait')
  other = await finishesAlongside({ key: 'owner-a' })
  t.equal(other.quick, false, 'the same key does')
  await release()
  await other.tx
})
