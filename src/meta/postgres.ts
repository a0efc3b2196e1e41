// The shared engine: PostgreSQL through node-postgres' pool, for registries whose metadata must
// outlive one machine or serve several replicas. Loaded only when database.url is set.
//
// Statements are written for both engines with `?`/`@name` placeholders and translated here to
// $1..$n once per SQL text; each runs as a named prepared statement on whichever pooled
// connection serves it. A write transaction holds one connection (found through the async
// context by every statement run inside it) and takes one advisory lock after BEGIN, so writers
// are serialized exactly as SQLite's BEGIN IMMEDIATE serializes them. BIGINT and NUMERIC come
// back as JavaScript numbers, as SQLite gives them (sizes and millisecond times stay far below
// 2^53). When PostgreSQL cannot be reached, statements fail with a 503 naming the host, and the
// pool reconnects by itself when it is back.

import pg from 'pg'
import { AsyncLocalStorage } from 'node:async_hooks'
import { RegistryError } from '../errors.js'
import { type Database, type ExclusiveOutcome, type RunResult, SchemaTooNewError, type SqlText, sqlFor, type Statement, type StorageFullHandler, type TransactionOptions } from './database.js'
import { applyMigrations, type Migration, readMigrations } from './migrations.js'

/** pg_advisory_xact_lock key every write transaction takes ('pkyw'). */
const WRITE_LOCK = 0x706b7977
/** Taken shared by blob bookkeeping, exclusively by garbage collection's decisions ('pkyb'). */
const BLOB_LOCK = 0x706b7962
/** How long /health waits for PostgreSQL to answer. */
const PING_TIMEOUT_MS = 5000
/** pg_advisory_lock key held while migrations run ('pkym'). */
const MIGRATION_LOCK = 0x706b796d
/** First number of the session advisory locks of `exclusively`, the second is the name's ('pkyx'). */
const EXCLUSIVE_LOCK = 0x706b7978

interface OpenTransaction {
  client: pg.PoolClient
  depth: number
  /** False once it committed or rolled back: work it started that outlives it runs outside it. */
  open: boolean
}

const toNumber = (value: string): number => Number(value)

/** int8 (COUNT, SUM of integers, BIGINT columns) and numeric (SUM of BIGINT) as numbers. */
const TYPES = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return toNumber
    return pg.types.getTypeParser(oid, format as 'text')
  }) as typeof pg.types.getTypeParser,
}

export class PostgresDatabase implements Database {
  readonly dialect = 'postgres'
  readonly sharedByReplicas = true
  private readonly statements = new Map<string, PostgresStatement<unknown>>()
  private readonly context = new AsyncLocalStorage<OpenTransaction>()
  private readonly watched = new WeakSet<pg.PoolClient>()
  private observer: ((seconds: number) => void) | null = null
  /**
   * This process's writers take turns before they take a connection: only one of them at a time
   * holds a connection waiting for WRITE_LOCK, so a burst of writes cannot take every pooled
   * connection from the reads and the blob bookkeeping, which do not wait for writers.
   */
  private writerTurn: Promise<void> = Promise.resolve()

  private constructor(private readonly pool: pg.Pool, readonly location: string) {}

  /**
   * Connects (within the pool's connection timeout) and brings the schema up to date under an
   * advisory lock, so replicas starting together migrate once. `location` names the server in
   * messages; it never holds the password.
   */
  static async open(settings: pg.PoolConfig, location: string, migrations: Migration[] = readMigrations('postgres')): Promise<PostgresDatabase> {
    const pool = new pg.Pool({ ...settings, types: TYPES })
    // An idle connection PostgreSQL closes (a restart) must not crash the process: the pool
    // drops it and opens a new one on the next query.
    pool.on('error', () => {})
    const db = new PostgresDatabase(pool, location)
    try {
      await db.migrate(migrations)
    } catch (err) {
      await pool.end().catch(() => {})
      const described = db.describe(err)
      // Whatever stops the start (credentials refused, no such database, a migration), the
      // operator must learn which server said so.
      if (described instanceof RegistryError || described instanceof SchemaTooNewError) throw described
      const reason = described instanceof Error ? described.message : String(described)
      throw new RegistryError('UNAVAILABLE', `the metadata database (PostgreSQL at ${location}) refused to open: ${reason}`)
    }
    return db
  }

  prepare<Row = unknown>(sql: SqlText): Statement<Row> {
    const text = sqlFor(sql, 'postgres')
    let statement = this.statements.get(text)
    if (!statement) {
      statement = new PostgresStatement(this, `packyard_${this.statements.size + 1}`, text)
      this.statements.set(text, statement)
    }
    return statement as Statement<Row>
  }

  inTransaction(): boolean {
    return this.current() !== undefined
  }

  /** The transaction the caller runs in, if it is still open. */
  private current(): OpenTransaction | undefined {
    const tx = this.context.getStore()
    return tx?.open ? tx : undefined
  }

  async query(config: pg.QueryConfig): Promise<pg.QueryResult> {
    const tx = this.current()
    try {
      return await (tx ? tx.client.query(config) : this.pool.query(config))
    } catch (err) {
      throw this.describe(err)
    }
  }

  async transaction<T>(fn: () => Promise<T>, options: TransactionOptions = { durable: true }): Promise<T> {
    const open = this.current()
    if (open) return this.savepoint(open, fn)
    const started = this.observer ? process.hrtime.bigint() : 0n
    const serialize = options.serialize ?? 'writes'
    try {
      // One round trip: BEGIN, the locks and the commit setting as one simple-protocol query.
      const begin = ['BEGIN', ...locksFor(serialize), ...(options.durable ? [] : ['SET LOCAL synchronous_commit = off'])].join('; ')
      const run = () => this.onOneConnection(begin, fn)
      return await (serialize === 'writes' || serialize === 'collection' ? this.inWriterTurn(run) : run())
    } finally {
      this.observer?.(Number(process.hrtime.bigint() - started) / 1e9)
    }
  }

  private async inWriterTurn<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.writerTurn
    let done!: () => void
    this.writerTurn = new Promise<void>((resolve) => { done = resolve })
    await previous
    try {
      return await fn()
    } finally {
      done()
    }
  }

  snapshot<T>(fn: () => Promise<T>): Promise<T> {
    return this.onOneConnection('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', fn)
  }

  /** `fn` in a transaction opened by `begin` (its statements sent as one query), on one pooled connection. */
  private async onOneConnection<T>(begin: string, fn: () => Promise<T>): Promise<T> {
    const client = await this.connect()
    const tx: OpenTransaction = { client, depth: 0, open: true }
    let broken: Error | undefined
    try {
      try {
        await client.query(begin)
        const result = await this.context.run(tx, fn)
        await client.query('COMMIT')
        return result
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackFailure: Error) => { broken = rollbackFailure })
        throw err
      }
    } catch (err) {
      throw this.describe(err)
    } finally {
      tx.open = false
      // A connection that failed mid-transaction is closed rather than reused.
      client.release(broken)
    }
  }

  private async savepoint<T>(tx: OpenTransaction, fn: () => Promise<T>): Promise<T> {
    const name = `sp${++tx.depth}`
    await tx.client.query(`SAVEPOINT ${name}`)
    try {
      const result = await fn()
      await tx.client.query(`RELEASE SAVEPOINT ${name}`)
      return result
    } catch (err) {
      await tx.client.query(`ROLLBACK TO SAVEPOINT ${name}`)
      throw err
    } finally {
      tx.depth--
    }
  }

  private async connect(): Promise<pg.PoolClient> {
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (err) {
      throw this.describe(err)
    }
    if (!this.watched.has(client)) {
      // Between two statements of a transaction the connection may die: pg reports that as an
      // 'error' event, which must not crash the process (the next query fails and is reported).
      client.on('error', () => {})
      this.watched.add(client)
    }
    return client
  }

  async exclusively<T>(name: string, fn: () => Promise<T>): Promise<ExclusiveOutcome<T>> {
    const client = await this.connect()
    const key = `${EXCLUSIVE_LOCK}, ${lockNumber(name)}`
    let locked = false
    try {
      const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${key}) AS locked`)
      locked = rows[0]?.locked === true
      if (!locked) return { ran: false }
      return { ran: true, value: await fn() }
    } catch (err) {
      throw this.describe(err)
    } finally {
      // A connection that failed may hold the lock no longer (or at all): it is closed, not reused.
      let healthy = true
      if (locked) healthy = await client.query(`SELECT pg_advisory_unlock(${key})`).then(() => true, () => false)
      client.release(!healthy)
    }
  }

  private async migrate(migrations: Migration[]): Promise<void> {
    const client = await this.pool.connect()
    client.on('error', () => {})
    try {
      await client.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`)
      try {
        await applyMigrations(client, {
          version: async (c) => {
            await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)')
            const { rows } = await c.query<{ v: string | null }>('SELECT MAX(version) AS v FROM schema_migrations')
            return rows[0]?.v === null || rows[0]?.v === undefined ? 0 : Number(rows[0].v)
          },
          apply: async (c, m) => {
            await c.query('BEGIN')
            try {
              await c.query(m.sql)
              await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()])
              await c.query('COMMIT')
            } catch (err) {
              await c.query('ROLLBACK')
              throw err
            }
          },
        }, migrations)
      } finally {
        await client.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`)
      }
    } finally {
      client.release()
    }
  }

  /**
   * Connection failures become a 503 naming the server; text PostgreSQL cannot hold (a NUL
   * character, which SQLite stores) a 400; other SQL errors stay as PostgreSQL gave them.
   */
  describe(err: unknown): unknown {
    if (err instanceof RegistryError) return err
    const code = (err as { code?: unknown } | null)?.code
    if (code === '22021' || code === '22P05') {
      return new RegistryError('BAD_REQUEST', 'the request holds text PostgreSQL cannot store (a NUL character); remove it and try again')
    }
    if (!isConnectionFailure(err)) return err
    const reason = err instanceof Error ? err.message : String(err)
    return new RegistryError('UNAVAILABLE', `the metadata database (PostgreSQL at ${this.location}) cannot be reached: ${reason}`)
  }

  async schemaVersion(): Promise<number> {
    const { rows } = await this.query({ text: 'SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations' })
    return Number(rows[0].v)
  }

  /**
   * A server that stopped answering (a network partition, a frozen host) must not hang the
   * load balancer's health check: PING_TIMEOUT_MS, then a 503 like an unreachable server.
   */
  async ping(): Promise<void> {
    // pg reads a query's own query_timeout; its types know only the client-wide one.
    const ping: pg.QueryConfig & { query_timeout: number } = { text: 'SELECT 1', query_timeout: PING_TIMEOUT_MS }
    await this.query(ping)
  }

  /** PostgreSQL's disk is the server's own: nothing this process frees would help. */
  onStorageFull(_handler: StorageFullHandler): void {}

  observeWriteTransactions(observer: (seconds: number) => void): void {
    this.observer = observer
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end()
  }
}

class PostgresStatement<Row> implements Statement<Row> {
  private readonly text: string
  /** For `@name` placeholders: the parameter object's keys in $n order; null for `?`. */
  private readonly names: string[] | null

  constructor(private readonly db: PostgresDatabase, private readonly name: string, sql: string) {
    const translated = translatePlaceholders(sql)
    this.text = translated.text
    this.names = translated.names
  }

  private values(params: unknown[]): unknown[] {
    if (this.names === null) return params.map(toParameter)
    const named = (params[0] ?? {}) as Record<string, unknown>
    return this.names.map((n) => toParameter(named[n]))
  }

  async get(...params: unknown[]): Promise<Row | undefined> {
    return (await this.db.query({ name: this.name, text: this.text, values: this.values(params) })).rows[0] as Row | undefined
  }

  async all(...params: unknown[]): Promise<Row[]> {
    return (await this.db.query({ name: this.name, text: this.text, values: this.values(params) })).rows as Row[]
  }

  async run(...params: unknown[]): Promise<RunResult> {
    return { changes: (await this.db.query({ name: this.name, text: this.text, values: this.values(params) })).rowCount ?? 0 }
  }
}

/**
 * The advisory locks of TransactionOptions.serialize. Always WRITE_LOCK before BLOB_LOCK, and
 * blob bookkeeping never waits for WRITE_LOCK, so no two transactions wait for each other.
 */
function locksFor(serialize: NonNullable<TransactionOptions['serialize']>): string[] {
  if (serialize === 'writes') return [`SELECT pg_advisory_xact_lock(${WRITE_LOCK})`]
  if (serialize === 'blobs') return [`SELECT pg_advisory_xact_lock_shared(${BLOB_LOCK})`]
  if (serialize === 'collection') return [`SELECT pg_advisory_xact_lock(${WRITE_LOCK})`, `SELECT pg_advisory_xact_lock(${BLOB_LOCK})`]
  if (serialize === 'none') return []
  // The two-number form keeps keyed locks apart from the single-number ones above; the key's
  // number is computed here, so no text of it reaches the SQL.
  return [`SELECT pg_advisory_xact_lock(${BLOB_LOCK}, ${lockNumber(serialize.key)})`]
}

/** A 32-bit signed number for `key` (FNV-1a over its UTF-8 bytes): what the keyed locks are taken on. */
function lockNumber(key: string): number {
  let hash = 0x811c9dc5
  for (const byte of Buffer.from(key, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193)
  return hash | 0
}

function toParameter(value: unknown): unknown {
  return value === undefined ? null : value
}

/**
 * `?` and `@name` outside string literals and quoted identifiers become $1, $2, ...: `?` in
 * order, each distinct `@name` once (used again, it reuses its number).
 */
export function translatePlaceholders(sql: string): { text: string; names: string[] | null } {
  let out = ''
  let positional = 0
  const names: string[] = []
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i] as string
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1)
      const stop = end === -1 ? sql.length : end + 1
      out += sql.slice(i, stop)
      i = stop - 1
    } else if (c === '?') {
      out += `$${++positional}`
    } else if (c === '@' && /[A-Za-z_]/.test(sql[i + 1] ?? '')) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))?.[0] as string
      let index = names.indexOf(name)
      if (index === -1) index = names.push(name) - 1
      out += `$${index + 1}`
      i += name.length
    } else {
      out += c
    }
  }
  if (positional > 0 && names.length > 0) throw new Error(`a statement mixes ? and @name placeholders: ${sql}`)
  return { text: out, names: names.length > 0 ? names : null }
}

// What node-postgres and the network say when the server is unreachable or went away, and
// PostgreSQL's own classes for it: 08 connection exception, 57P01-57P03 shutting down or
// starting, 53300 too many connections.
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300'])
const CONNECTION_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|connect ECONNREFUSED|Client was closed|Query read timeout/i

function isConnectionFailure(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const code = String((err as { code?: unknown }).code ?? '')
  if (CONNECTION_CODES.has(code) || code.startsWith('08')) return true
  return err instanceof Error && CONNECTION_MESSAGES.test(err.message)
}
