// The append-only event log (migration 0001 forbids updates and deletes by trigger), and the one
// vocabulary every writer records in it. Written inside the transaction of the change it
// describes, so the log never disagrees with the state. Read back three ways: the history of
// a pack version, pages of the audit trail (GET /v1/_events), and the totals of garbage
// collection for the metrics. Each event names the replica that wrote it (events.replica): the
// server says once which replica writes through its database handle (recordReplica), so every
// table owner's EventLog records it without being handed it; operator commands name none, and
// their events keep NULL (the actor already says who ran them, and no replica handled them).

import { type Database, type Statement, writeTransaction } from './database.js'

/**
 * - create: a tag that did not exist now points at pushed content
 * - update: a tag moved to other content (a forced push, or an OCI client re-pushing a tag)
 * - tag: a tag was added to content already stored
 * - untag: a tag was deleted
 * - delete: a version / manifest was deleted with its tags
 * - blob.delete: a blob was unlinked from a repository
 * - gc: garbage collection removed blobs and temp files (repository ''; detail: what it removed)
 * - lockout: repeated failed logins locked out a user name from an address, or a whole address
 *   (repository ''; actor: the user name tried, '' for an address; detail: address, failures)
 * - user.add, user.delete: `packyard user add` (a new user, a new password, a new writer) or
 *   `packyard user delete` changed the users (repository ''; actor: who ran the command;
 *   detail: the user, and for user.add whether it was added or updated and made a writer)
 * - sync: one run of `packyard sync` (or of the server's periodic mirror) against one upstream
 *   (repository ''; actor: who ran it; detail: SyncRunDetail in meta/sync.ts)
 * - sync.conflict: a tag pushed here kept its content although an upstream holds other content
 *   under it (old digest: here; new digest: the upstream's; detail: the upstream)
 */
export type EventAction = 'create' | 'update' | 'tag' | 'untag' | 'delete' | 'blob.delete' | 'gc' | 'lockout' | 'user.add' | 'user.delete' | 'sync' | 'sync.conflict'

/** The repository of events about the registry as a whole (gc, lockout, user changes). */
export const NO_REPOSITORY = ''

export interface NewEvent {
  at: number
  actor: string
  action: EventAction
  repository: string
  tag: string | null
  oldDigest: string | null
  newDigest: string | null
  forced: boolean
  message: string | null
  /** Extras of the action, stored as JSON. */
  detail?: Record<string, unknown>
}

export interface EventRow {
  id: number
  at: number
  actor: string
  action: string
  repository: string
  tag: string | null
  old_digest: string | null
  new_digest: string | null
  forced: number
  message: string | null
  /** JSON, or null. */
  detail: string | null
  /** replica.id of the server that wrote it; null for operator commands and events older than replicas. */
  replica: string | null
}

/** Which events a page of the audit trail holds; every field is optional. */
export interface EventFilter {
  /** Only events at or after this time (ms since the epoch). */
  since?: number | undefined
  repository?: string | undefined
  actor?: string | undefined
}

export interface GcTotals {
  runs: number
  blobsRemoved: number
  bytesFreed: number
}

const COLUMNS = 'id, at, actor, action, repository, tag, old_digest, new_digest, forced, message, detail, replica'

/** The replica writing through each database handle (a server's); handles of commands have none. */
const replicas = new WeakMap<Database, string>()

/** Every event written through `db` from now on names replica `id` (the server, at start). */
export function recordReplica(db: Database, id: string): void {
  replicas.set(db, id)
}

export class EventLog {
  private readonly insert: Statement
  private readonly historyOfTags: Statement
  private readonly gc: Statement
  /** One statement per combination of filters, prepared on first use. */
  private readonly pages = new Map<string, Statement>()

  constructor(private readonly db: Database) {
    this.insert = db.prepare(
      `INSERT INTO events (at, actor, action, repository, tag, old_digest, new_digest, forced, message, detail, replica)
       VALUES (@at, @actor, @action, @repository, @tag, @oldDigest, @newDigest, @forced, @message, @detail, @replica)`,
    )
    this.historyOfTags = db.prepare({
      sqlite: `SELECT ${COLUMNS} FROM events
               WHERE repository = ? AND (tag IN (SELECT value FROM json_each(?)) OR new_digest = ? OR old_digest = ?) ORDER BY id`,
      postgres: `SELECT ${COLUMNS} FROM events
                 WHERE repository = ? AND (tag IN (SELECT jsonb_array_elements_text(?::jsonb)) OR new_digest = ? OR old_digest = ?) ORDER BY id`,
    })
    this.gc = db.prepare({
      sqlite: `SELECT COUNT(*) AS runs,
                      COALESCE(SUM(json_extract(detail, '$.blobsRemoved')), 0) AS "blobsRemoved",
                      COALESCE(SUM(json_extract(detail, '$.bytesFreed')), 0) AS "bytesFreed"
               FROM events WHERE action = 'gc'`,
      postgres: `SELECT COUNT(*) AS runs,
                        COALESCE(SUM((detail::jsonb ->> 'blobsRemoved')::bigint), 0) AS "blobsRemoved",
                        COALESCE(SUM((detail::jsonb ->> 'bytesFreed')::bigint), 0) AS "bytesFreed"
                 FROM events WHERE action = 'gc'`,
    })
  }

  /** Inside the transaction of the change it records. */
  async append(e: NewEvent): Promise<void> {
    await this.insert.run({ ...e, forced: e.forced ? 1 : 0, detail: e.detail === undefined ? null : JSON.stringify(e.detail), replica: replicas.get(this.db) ?? null })
  }

  /**
   * An event about the registry as a whole (a collection, a lockout, a user change): no
   * repository, tag or digest, and a write transaction of its own, since no other change goes
   * with it.
   */
  async appendRegistryEvent(actor: string, action: 'gc' | 'lockout' | 'user.add' | 'user.delete', detail: Record<string, unknown>): Promise<void> {
    await writeTransaction(this.db, () =>
      this.append({ at: Date.now(), actor, action, repository: NO_REPOSITORY, tag: null, oldDigest: null, newDigest: null, forced: false, message: null, detail }),
    )
  }

  /** What happened to these tags of a repository, or to content with `digest`, oldest first. */
  async history(repository: string, tags: string[], digest: string): Promise<EventRow[]> {
    return (await this.historyOfTags.all(repository, JSON.stringify(tags), digest, digest)) as EventRow[]
  }

  /** Up to `limit` events after the event with id `afterId`, oldest first. */
  async list(filter: EventFilter, afterId: number, limit: number): Promise<EventRow[]> {
    // With `since`, the first page is read in id order from the first event at or after that time
    // (found through the index on `at`; none: from past the last one), not from the start of the
    // log: one lower bound on the id, so the engine can seek to it. Later pages start after the
    // last id they were given, which is past that bound already. SQLite is told to use the index
    // on `at` (its planner may prefer the id order); PostgreSQL's planner takes it by itself.
    const atIndex = this.db.dialect === 'sqlite' ? ' INDEXED BY events_at' : ''
    const firstSince = `COALESCE((SELECT MIN(id) FROM events${atIndex} WHERE at >= @since) - 1, (SELECT COALESCE(MAX(id), 0) FROM events))`
    const where = [filter.since === undefined || afterId > 0 ? 'id > @afterId' : `id > ${firstSince}`]
    if (filter.since !== undefined) where.push('at >= @since')
    if (filter.repository !== undefined) where.push('repository = @repository')
    if (filter.actor !== undefined) where.push('actor = @actor')
    const key = where.join(' AND ')
    let statement = this.pages.get(key)
    if (!statement) {
      statement = this.db.prepare(`SELECT ${COLUMNS} FROM events WHERE ${key} ORDER BY id LIMIT @limit`)
      this.pages.set(key, statement)
    }
    const params: Record<string, unknown> = { afterId, limit }
    if (filter.since !== undefined) params.since = filter.since
    if (filter.repository !== undefined) params.repository = filter.repository
    if (filter.actor !== undefined) params.actor = filter.actor
    return (await statement.all(params)) as EventRow[]
  }

  /** Every garbage-collection run recorded, whichever process ran it. */
  async gcTotals(): Promise<GcTotals> {
    return (await this.gc.get()) as GcTotals
  }
}
