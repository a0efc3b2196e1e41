// The notification outbox (migration 0013): writers describe what changed (an OutboxDraft)
// inside their own write transaction, and the recorder app.ts attached to the database turns
// that into an event row in the same transaction. Without a recorder (no endpoint configured)
// recording costs nothing. The senders read the rows back in order, keep each endpoint's place,
// and remove the rows every endpoint is past.

import type { Statement } from 'better-sqlite3'
import { type Db, writeTransaction } from './db.js'
import type { RepositoryKey } from './repository-key.js'

export type OutboxAction = 'push' | 'pull' | 'delete' | 'mount'

/** The parent tags a pack push created or moved (`1.x` from 1.2.0 to 1.3.0). */
export interface PackParentTagMove {
  tag: string
  from: string | null
  to: string
}

/** The pack a pack event is about: what a CI pipeline or a chat message wants to say. */
export interface PackEventDetail {
  name: string
  version: string | null
  tag: string | null
  group: string | null
  parentTags: PackParentTagMove[]
  forced: boolean
  message: string | null
  warnings: Array<{ file: string; field: string | null; message: string }>
}

/** What a writer knows of its change; the recorder adds the id, time, request and source. */
export interface OutboxDraft {
  action: OutboxAction
  actor: string
  repository: RepositoryKey
  /** The manifest or blob: its media type, size and digest. */
  mediaType: string
  size: number
  digest: string
  tag?: string | null
  /** The descriptors a manifest refers to, as distribution sends them (when notifications.events.includereferences is on). */
  references?: Array<{ mediaType: string; digest: string; size: number }>
  /** A mount's source repository. */
  fromRepository?: RepositoryKey
  pack?: PackEventDetail
}

/** An event as the outbox stores it: `event` is its JSON. */
export interface OutboxEventRow {
  at: number
  action: OutboxAction
  mediaType: string
  event: string
}

export interface OutboxRecorder {
  /** Called inside the writer's transaction (or, for a pull, during the request); returns the row to insert. */
  event(draft: OutboxDraft): OutboxEventRow
  /** After the transaction: wakes the senders (called whether it committed or not). */
  recorded(): void
}

const recorders = new WeakMap<Db, { recorder: OutboxRecorder; insert: Statement }>()

/** From now on, drafts recorded on `db` become outbox rows. */
export function attachOutbox(db: Db, recorder: OutboxRecorder): void {
  recorders.set(db, { recorder, insert: db.prepare('INSERT INTO notification_outbox (at, action, media_type, event) VALUES (?, ?, ?, ?)') })
}

/** Inside the transaction of the change `draft` describes; nothing when no endpoint listens. */
export function recordNotification(db: Db, draft: OutboxDraft): void {
  const attached = recorders.get(db)
  if (!attached) return
  const row = attached.recorder.event(draft)
  attached.insert.run(row.at, row.action, row.mediaType, row.event)
  queueMicrotask(() => attached.recorder.recorded())
}

/** Whether drafts on `db` are recorded (a writer may skip building a costly one when not). */
export function isRecording(db: Db): boolean {
  return recorders.has(db)
}

/**
 * Pull events, which are not changes: rows built when each pull happened, a batch of them in one
 * transaction of their own (not fsynced: a crash may lose the pulls of its last moments, never
 * a change's event).
 */
export function recordPulls(db: Db, rows: OutboxEventRow[]): void {
  const attached = recorders.get(db)
  if (!attached || rows.length === 0) return
  writeTransaction(db, () => {
    for (const row of rows) attached.insert.run(row.at, row.action, row.mediaType, row.event)
  }, { durable: false })
  attached.recorder.recorded()
}

/** What retention reads of a row: its place, time and whether the endpoint wants it. */
export interface OutboxKind {
  seq: number
  at: number
  action: OutboxAction
  media_type: string
}

export interface OutboxRow {
  seq: number
  at: number
  action: OutboxAction
  media_type: string
  event: string
}

/** What OutboxReader.start() found: the enabled endpoints' places, and what it dropped. */
export interface OutboxStart {
  places: Map<string, number>
  /** Endpoints no longer configured, whose places were removed. */
  forgotten: string[]
  /** Rows removed: every endpoint left was past them. */
  removed: number
}

/** The senders' view of the outbox: the rows past an endpoint's place, and its place. */
export class OutboxReader {
  private readonly s: Record<'rows' | 'kinds' | 'place' | 'setPlace' | 'last' | 'remove' | 'endpoints' | 'forget', Statement>

  constructor(private readonly db: Db) {
    this.s = {
      rows: db.prepare('SELECT seq, at, action, media_type, event FROM notification_outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      // The columns before `event` in the record: reading them leaves the event's pages unread.
      kinds: db.prepare('SELECT seq, at, action, media_type FROM notification_outbox WHERE seq > ? ORDER BY seq'),
      place: db.prepare('SELECT delivered_seq AS seq FROM notification_endpoints WHERE name = ?'),
      setPlace: db.prepare('INSERT INTO notification_endpoints (name, delivered_seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET delivered_seq = excluded.delivered_seq'),
      last: db.prepare("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'notification_outbox'), 0) AS seq"),
      remove: db.prepare('DELETE FROM notification_outbox WHERE seq <= ?'),
      endpoints: db.prepare('SELECT name FROM notification_endpoints'),
      forget: db.prepare('DELETE FROM notification_endpoints WHERE name = ?'),
    }
  }

  /**
   * At start, also with no endpoint configured (else what the outbox kept for removed endpoints
   * would stay forever): an endpoint seen before resumes where it was; a new one, or a disabled
   * one, starts at the end (it is sent what happens from now on). Endpoints no longer configured
   * are forgotten, and the rows every remaining enabled endpoint is past (all of them when none
   * is) removed. Returns each enabled endpoint's place and what was dropped, for the log.
   */
  start(endpoints: Array<{ name: string; disabled: boolean }>): OutboxStart {
    return writeTransaction(this.db, () => {
      const names = new Set(endpoints.map((e) => e.name))
      const forgotten: string[] = []
      for (const { name } of this.s.endpoints.all() as Array<{ name: string }>) {
        if (names.has(name)) continue
        this.s.forget.run(name)
        forgotten.push(name)
      }
      const last = (this.s.last.get() as { seq: number }).seq
      const places = new Map<string, number>()
      for (const e of endpoints) {
        const known = this.s.place.get(e.name) as { seq: number } | undefined
        const place = e.disabled || known === undefined ? last : known.seq
        this.s.setPlace.run(e.name, place)
        if (!e.disabled) places.set(e.name, place)
      }
      const removed = this.s.remove.run(places.size === 0 ? last : Math.min(...places.values())).changes
      return { places, forgotten, removed }
    })
  }

  rowsAfter(seq: number, limit: number): OutboxRow[] {
    return this.s.rows.all(seq, limit) as OutboxRow[]
  }

  /**
   * The last seq handed out: one lookup in sqlite_sequence, not a count. seq has no gaps past
   * the oldest endpoint's place (a rolled-back insert rolls sqlite_sequence back with it, and
   * rows go only once every endpoint is past them), so `last() - place` is what is pending.
   */
  last(): number {
    return (this.s.last.get() as { seq: number }).seq
  }

  /** The rows past `seq`, oldest first, read one by one as the caller goes (break to stop). */
  kindsAfter(seq: number): IterableIterator<OutboxKind> {
    return this.s.kinds.iterate(seq) as IterableIterator<OutboxKind>
  }

  /**
   * Moves an endpoint's place (not fsynced: a place lost in a crash only sends its events again,
   * which at-least-once delivery allows) and removes the rows every endpoint is past.
   */
  advance(name: string, seq: number, everyone: () => number): void {
    writeTransaction(
      this.db,
      () => {
        this.s.setPlace.run(name, seq)
        this.s.remove.run(everyone())
      },
      { durable: false },
    )
  }
}
