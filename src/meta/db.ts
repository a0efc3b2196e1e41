// Opens the metadata database once (WAL, foreign keys, busy timeout, synchronous=FULL) and
// brings its schema up to date from the numbered files in migrations/. Each migration runs in
// its own transaction with its version recorded inside it, so a crash mid-migration leaves
// the previous version; a database written by a newer Packyard is refused.

import Database from 'better-sqlite3'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { isStorageFull } from '../errors.js'
import { PACKAGE_ROOT } from '../paths.js'

export type Db = Database.Database

export const MIGRATIONS_DIR = join(PACKAGE_ROOT, 'migrations')

export interface Migration {
  version: number
  name: string
  sql: string
}

export class SchemaTooNewError extends Error {
  constructor(readonly found: number, readonly known: number) {
    super(`the database schema is version ${found}, newer than this Packyard knows (${known}); run a newer Packyard`)
    this.name = 'SchemaTooNewError'
  }
}

export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => /^\d{4}-[a-z0-9-]+\.sql$/.test(f))
    .map((f) => ({ version: Number(f.slice(0, 4)), name: f, sql: readFileSync(join(dir, f), 'utf8') }))
    .sort((a, b) => a.version - b.version)
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations must be numbered 0001, 0002, ... without gaps; found ${m.name}`)
  })
  return migrations
}

/** `file` is a path or ':memory:'. */
export function openDatabase(file: string, migrations: Migration[] = readMigrations()): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
  const db = new Database(file)
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    migrate(db, migrations)
  } catch (err) {
    db.close()
    throw err
  }
  return db
}

/**
 * What to do when a write transaction fails because the disk is full: return true when space
 * was freed (the space reserve released) and the transaction should be tried once more.
 */
export type StorageFullHandler = () => boolean

const fullHandlers = new WeakMap<Db, StorageFullHandler>()

export function onStorageFull(db: Db, handler: StorageFullHandler): void {
  fullHandlers.set(db, handler)
}

/**
 * The one way to write: an immediate transaction (the write lock is taken at BEGIN, so it can
 * never fail half-way with SQLITE_BUSY on an upgrade). On a full disk the registered handler
 * may free the space reserve and the transaction runs once more, so deletes and garbage
 * collection still work when pushes no longer fit.
 *
 * `durable: false` is for bookkeeping a crash may lose without harm (upload sessions: staging
 * is purged and blobs are content-addressed; leases: the request they protect dies with the
 * process). It commits with synchronous=NORMAL: visible to every connection at once, only not
 * fsynced, so it does not stall the event loop the way each FULL commit's fsync does.
 *
 * Per-call SQL goes through exec, never db.pragma() or db.prepare(): better-sqlite3 keeps every
 * statement it prepared until the database closes, so a statement made per call is native memory
 * lost per call (about 5 KB: 20,000 upload sessions cost the server 53 MB that way).
 */
export function writeTransaction<T>(db: Db, fn: () => T, options: { durable: boolean } = { durable: true }): T {
  const observe = durationObservers.get(db)
  const started = observe ? process.hrtime.bigint() : 0n
  if (!options.durable) db.exec('PRAGMA synchronous = NORMAL')
  try {
    try {
      return db.transaction(fn).immediate()
    } catch (err) {
      if (!isStorageFull(err) || !fullHandlers.get(db)?.()) throw err
      return db.transaction(fn).immediate()
    }
  } finally {
    if (!options.durable) db.exec('PRAGMA synchronous = FULL')
    observe?.(Number(process.hrtime.bigint() - started) / 1e9)
  }
}

const durationObservers = new WeakMap<Db, (seconds: number) => void>()

/**
 * Called with the duration of every write transaction of `db`, from BEGIN IMMEDIATE (waiting
 * for the write lock included) to COMMIT (the fsync included) or rollback: the metrics' view
 * of how long writers hold and wait for the database.
 */
export function observeWriteTransactions(db: Db, observer: (seconds: number) => void): void {
  durationObservers.set(db, observer)
}

/** Throws when the database cannot answer (for /health); exec, so no statement is kept per call. */
export function pingDatabase(db: Db): void {
  db.exec('SELECT 1')
}

export function schemaVersion(db: Db): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)')
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }
  return row.v ?? 0
}

export function migrate(db: Db, migrations: Migration[]): void {
  const current = schemaVersion(db)
  const known = migrations.length
  if (current > known) throw new SchemaTooNewError(current, known)
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
  for (const m of migrations.slice(current)) {
    db.transaction(() => {
      db.exec(m.sql)
      record.run(m.version, m.name, Date.now())
    }).immediate()
  }
}
