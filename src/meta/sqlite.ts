// The embedded engine: one better-sqlite3 connection (WAL, foreign keys, busy timeout,
// synchronous=FULL) behind the asynchronous Database interface. better-sqlite3 answers at once,
// so a statement outside a transaction runs immediately; while a write transaction is open,
// statements from other requests wait for it to end (they would otherwise run inside it, on
// the same connection) and statements from inside it (found through the async context) run.
// Transactions are short: callers do their slow work before them.

import Sqlite from 'better-sqlite3'
import { AsyncLocalStorage } from 'node:async_hooks'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { isStorageFull } from '../errors.js'
import { type Database, type ExclusiveOutcome, type RunResult, type SqlText, sqlFor, type Statement, type StorageFullHandler, type TransactionOptions } from './database.js'
import { applyMigrations, type Migration, readMigrations } from './migrations.js'

/** The transaction a piece of async work runs in (an object per transaction, compared by identity). */
interface OpenTransaction {
  depth: number
}

export class SqliteDatabase implements Database {
  readonly dialect = 'sqlite'
  readonly sharedByReplicas = false
  private readonly statements = new Map<string, SqliteStatement<unknown>>()
  private readonly context = new AsyncLocalStorage<OpenTransaction>()
  /** The open write transaction, and a promise that settles when it ends. */
  private open: { tx: OpenTransaction; ended: Promise<void> } | null = null
  private fullHandler: StorageFullHandler | null = null
  private observer: ((seconds: number) => void) | null = null
  /** Names of the `exclusively` work running in this process. */
  private readonly running = new Set<string>()

  private constructor(readonly raw: Sqlite.Database, readonly location: string) {}

  /** `file` is a path or ':memory:'; the schema is brought up to date before it is returned. */
  static async open(file: string, migrations: Migration[] = readMigrations('sqlite')): Promise<SqliteDatabase> {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
    const raw = new Sqlite(file)
    try {
      raw.pragma('journal_mode = WAL')
      raw.pragma('synchronous = FULL')
      raw.pragma('foreign_keys = ON')
      raw.pragma('busy_timeout = 5000')
      await migrateSqlite(raw, migrations)
    } catch (err) {
      raw.close()
      throw err
    }
    return new SqliteDatabase(raw, file)
  }

  prepare<Row = unknown>(sql: SqlText): Statement<Row> {
    const text = sqlFor(sql, 'sqlite')
    let statement = this.statements.get(text)
    if (!statement) {
      statement = new SqliteStatement(this, text)
      this.statements.set(text, statement)
    }
    return statement as Statement<Row>
  }

  async exclusively<T>(name: string, fn: () => Promise<T>): Promise<ExclusiveOutcome<T>> {
    if (this.running.has(name)) return { ran: false }
    this.running.add(name)
    try {
      return { ran: true, value: await fn() }
    } finally {
      this.running.delete(name)
    }
  }

  inTransaction(): boolean {
    return this.open !== null && this.context.getStore() === this.open.tx
  }

  /** Runs `fn` now, or after the open transaction when the caller is not part of it. */
  call<T>(fn: () => T): Promise<T> {
    if (this.open !== null && this.context.getStore() !== this.open.tx) return this.open.ended.then(() => this.call(fn))
    try {
      return Promise.resolve(fn())
    } catch (err) {
      return Promise.reject(err)
    }
  }

  async transaction<T>(fn: () => Promise<T>, options: TransactionOptions = { durable: true }): Promise<T> {
    if (this.inTransaction()) return this.savepoint(fn, (this.open as { tx: OpenTransaction }).tx)
    while (this.open !== null) await this.open.ended
    const tx: OpenTransaction = { depth: 0 }
    let end = (): void => {}
    this.open = { tx, ended: new Promise<void>((resolve) => { end = resolve }) }
    const started = this.observer ? process.hrtime.bigint() : 0n
    if (!options.durable) this.raw.exec('PRAGMA synchronous = NORMAL')
    try {
      try {
        return await this.context.run(tx, () => this.once(fn))
      } catch (err) {
        if (!isStorageFull(err) || !this.fullHandler?.()) throw err
        return await this.context.run(tx, () => this.once(fn))
      }
    } finally {
      if (!options.durable) this.raw.exec('PRAGMA synchronous = FULL')
      this.open = null
      end()
      this.observer?.(Number(process.hrtime.bigint() - started) / 1e9)
    }
  }

  snapshot<T>(fn: () => Promise<T>): Promise<T> {
    return this.transaction(fn, { durable: false })
  }

  private async once<T>(fn: () => Promise<T>): Promise<T> {
    this.raw.exec('BEGIN IMMEDIATE')
    try {
      const result = await fn()
      this.raw.exec('COMMIT')
      return result
    } catch (err) {
      if (this.raw.inTransaction) this.raw.exec('ROLLBACK')
      throw err
    }
  }

  private async savepoint<T>(fn: () => Promise<T>, tx: OpenTransaction): Promise<T> {
    const name = `sp${++tx.depth}`
    this.raw.exec(`SAVEPOINT ${name}`)
    try {
      const result = await fn()
      this.raw.exec(`RELEASE ${name}`)
      return result
    } catch (err) {
      this.raw.exec(`ROLLBACK TO ${name}`)
      this.raw.exec(`RELEASE ${name}`)
      throw err
    } finally {
      tx.depth--
    }
  }

  async schemaVersion(): Promise<number> {
    return this.call(() => sqliteVersion(this.raw))
  }

  async ping(): Promise<void> {
    // exec keeps no statement per call.
    await this.call(() => this.raw.exec('SELECT 1'))
  }

  onStorageFull(handler: StorageFullHandler): void {
    this.fullHandler = handler
  }

  observeWriteTransactions(observer: (seconds: number) => void): void {
    this.observer = observer
  }

  async close(): Promise<void> {
    while (this.open !== null) await this.open.ended
    this.raw.close()
  }
}

class SqliteStatement<Row> implements Statement<Row> {
  private prepared: Sqlite.Statement | null = null

  constructor(private readonly db: SqliteDatabase, private readonly sql: string) {}

  private statement(): Sqlite.Statement {
    this.prepared ??= this.db.raw.prepare(this.sql)
    return this.prepared
  }

  get(...params: unknown[]): Promise<Row | undefined> {
    return this.db.call(() => this.statement().get(...params) as Row | undefined)
  }

  all(...params: unknown[]): Promise<Row[]> {
    return this.db.call(() => this.statement().all(...params) as Row[])
  }

  run(...params: unknown[]): Promise<RunResult> {
    return this.db.call(() => ({ changes: this.statement().run(...params).changes }))
  }
}

function sqliteVersion(raw: Sqlite.Database): number {
  raw.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)')
  const row = raw.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }
  return row.v ?? 0
}

/** SQLite's one writer needs no lock of ours: each migration is an immediate transaction. */
function migrateSqlite(raw: Sqlite.Database, migrations: Migration[]): Promise<void> {
  return applyMigrations(raw, {
    version: async (db) => sqliteVersion(db),
    apply: async (db, m) => {
      db.transaction(() => {
        db.exec(m.sql)
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now())
      }).immediate()
    },
  }, migrations)
}
