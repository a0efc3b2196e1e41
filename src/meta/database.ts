// The metadata database as every table's owner sees it, whichever engine is behind it: SQLite
// (embedded, one process) or PostgreSQL (several replicas). Statements are prepared once per
// SQL text and answer asynchronously, because a network database must be waited on; a write is
// one transaction, entered with `writeTransaction`, and every statement run while it is open
// (found through the async context, so callees need no transaction argument) runs inside it.
//
// Writers are serialized by both engines, the same way: SQLite takes its write lock at BEGIN
// IMMEDIATE, PostgreSQL takes one transaction-scoped advisory lock right after BEGIN. So the
// rules that compare what is stored (parent tags, the tag sequence, the outbox's order) see the
// same thing on both, with no engine-specific locking in the table owners. The bookkeeping of a
// request receiving blobs (its lease, its blob's record, its upload session) names the narrower
// order it needs (TransactionOptions.serialize), so on PostgreSQL it does not queue behind every
// pack's commit; SQLite serializes it with everything anyway.
//
// One owner per table: only the module named writes it (others may read it, or write through
// the owner's methods).
//   manifests.ts (ManifestStore): repositories, manifests, manifest_references, tags, for packs.ts
//     and oci.ts alike; tags.seq comes from sequence.ts (the tag write order), read in the write
//   blobs.ts: blobs, repository_blobs, blob_leases, blob_deletions
//   oci.ts: upload_sessions
//   packs.ts: pack_versions, pack_headers, pack_search, pack_readmes
//   events.ts: events
//   outbox.ts: notification_outbox, notification_endpoints
//   sync.ts: sync_origins
//   login-failures.ts: login_failures
//   replicas.ts: replicas (events.replica is written by events.ts, which names the server's replica)
//   tasks.ts: pending_tasks (its rows come from migrations)
//   sqlite.ts, postgres.ts: schema_migrations, each for its own engine
// transfer.ts copies every table's rows into an empty database (migrate-metadata, a logical
// restore) as they are: a copy applies no owner's rules, so it is no owner.

/** The engines; a statement whose SQL differs between them names both texts. */
export type Dialect = 'sqlite' | 'postgres'

/**
 * SQL with `?` (positional) or `@name` (named, values from one object) placeholders; the
 * PostgreSQL engine turns them into $1, $2, ... Portable SQL is one string; where the engines
 * need different SQL, one text per engine.
 */
export type SqlText = string | Readonly<Record<Dialect, string>>

export interface RunResult {
  /** Rows the statement inserted, updated or deleted. */
  changes: number
}

/** A prepared statement; parameters are the values of `?` in order, or one object for `@name`. */
export interface Statement<Row = unknown> {
  get(...params: unknown[]): Promise<Row | undefined>
  all(...params: unknown[]): Promise<Row[]>
  run(...params: unknown[]): Promise<RunResult>
}

export interface TransactionOptions {
  /**
   * false: bookkeeping a crash may lose without harm (upload sessions, leases), committed
   * without waiting for the disk (SQLite synchronous=NORMAL, PostgreSQL synchronous_commit off).
   */
  durable: boolean
  /**
   * What the transaction must not overlap with, on PostgreSQL (SQLite serializes every write):
   * - 'writes' (the default): any other write of this kind, or garbage collection;
   * - 'blobs': only garbage collection's decisions (a lease taken, a received blob recorded:
   *   what collection reads to decide a blob is garbage), never another request's;
   * - 'collection': garbage collection's decisions, which overlap neither of the above;
   * - { key }: only other transactions naming the same key (one owner's upload-session count);
   * - 'none': nothing (single statements on rows of one request).
   */
  serialize?: 'writes' | 'blobs' | 'collection' | 'none' | { key: string }
}

/** What `Database.exclusively` did: ran `fn` (and what it returned), or found the work taken. */
export type ExclusiveOutcome<T> = { ran: true; value: T } | { ran: false }

/**
 * What to do when a write transaction fails because the disk is full: return true when space
 * was freed (the space reserve released) and the transaction should be tried once more.
 */
export type StorageFullHandler = () => boolean

export interface Database {
  readonly dialect: Dialect
  /**
   * Whether several server processes (replicas) may work on this database at once: PostgreSQL's
   * yes; a SQLite file is held by one server (its lock file), so what that server orders among
   * its own requests needs no claim in the database.
   */
  readonly sharedByReplicas: boolean
  /** Where the metadata lives, for messages (a file path, or the PostgreSQL host without credentials). */
  readonly location: string
  /** The same statement object for the same SQL text: preparing is cheap to repeat. */
  prepare<Row = unknown>(sql: SqlText): Statement<Row>
  /** Runs `fn` in one write transaction (or, when one is already open here, in a savepoint of it). */
  transaction<T>(fn: () => Promise<T>, options?: TransactionOptions): Promise<T>
  /**
   * Runs `fn` reading one consistent snapshot of every table (a backup, a migration to another
   * engine): PostgreSQL a read-only repeatable-read transaction, writers going on meanwhile;
   * SQLite a transaction of its own, writers waiting until it ends.
   */
  snapshot<T>(fn: () => Promise<T>): Promise<T>
  /**
   * Runs `fn` unless work of the same `name` runs now in any process on this database (another
   * replica, an operator command): work that must happen one at a time (garbage collection,
   * upload purging, certificate renewal, one endpoint's notifications). Returns `{ ran: false }`
   * at once when it is taken. PostgreSQL holds a session advisory lock on one connection while
   * `fn` runs (a replica that dies lets go with its connection); SQLite, whose database one
   * server holds, a lock within this process.
   */
  exclusively<T>(name: string, fn: () => Promise<T>): Promise<ExclusiveOutcome<T>>
  /** Whether the caller runs inside one of this database's transactions. */
  inTransaction(): boolean
  /** The schema version the database is at. */
  schemaVersion(): Promise<number>
  /** Rejects when the database cannot answer (for /health). */
  ping(): Promise<void>
  onStorageFull(handler: StorageFullHandler): void
  /** Called with each write transaction's duration, waiting for the write lock included. */
  observeWriteTransactions(observer: (seconds: number) => void): void
  close(): Promise<void>
}

/** The one way to write: see Database.transaction. */
export function writeTransaction<T>(db: Database, fn: () => Promise<T>, options: TransactionOptions = { durable: true }): Promise<T> {
  return db.transaction(fn, options)
}

/**
 * Runs `fn` once no other process runs work of the same `name` (Database.exclusively), asking
 * again every `pollMs`: for work each replica needs done before it goes on, which the first to
 * get there does and the others then find done.
 */
export async function exclusivelyWhenFree<T>(db: Database, name: string, fn: () => Promise<T>, pollMs = 500): Promise<T> {
  for (;;) {
    const outcome = await db.exclusively(name, fn)
    if (outcome.ran) return outcome.value
    await new Promise((resolve) => setTimeout(resolve, pollMs))
  }
}

/** The SQL of `sql` for `dialect`. */
export function sqlFor(sql: SqlText, dialect: Dialect): string {
  return typeof sql === 'string' ? sql : sql[dialect]
}

export class SchemaTooNewError extends Error {
  constructor(readonly found: number, readonly known: number) {
    super(`the database schema is version ${found}, newer than this Packyard knows (${known}); run a newer Packyard`)
    this.name = 'SchemaTooNewError'
  }
}
