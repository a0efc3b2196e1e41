// The notification outbox (migration 0013): writers describe what changed (an OutboxDraft)
// inside their own write transaction, and the recorder app.ts attached to the database turns
// that into an event row in the same transaction. Without a recorder (no endpoint configured)
// recording costs nothing. The senders read the rows back in order, keep each endpoint's place,
// and remove the rows every endpoint is past. Every row is inserted in a write transaction, and
// both engines run one writer at a time, so rows commit in seq order: a sender reading past its
// place never skips a row that commits later with a lower seq.
//
// Several replicas on one PostgreSQL database share the outbox; each endpoint is delivered by
// one of them at a time (notifications/sender.ts). A place therefore only ever moves forward in
// the database (a replica that lost its turn unknowingly cannot move it back), an advance tells
// the sender whether the place was still where it left it (if not, another replica delivered
// meanwhile), and rows go once every endpoint in the table is past them, read from the table in
// the same transaction: never from one replica's memory, which may be behind.

import { type Database, type Statement, writeTransaction } from './database.js'
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
  /**
   * Wakes the senders: called once the row is inserted, possibly before its transaction ends
   * (committed or not), so a sender woken waits for the writers (OutboxReader.afterWriters)
   * before it reads.
   */
  recorded(): void
}

const recorders = new WeakMap<Database, { recorder: OutboxRecorder; insert: Statement }>()

/** From now on, drafts recorded on `db` become outbox rows. */
export function attachOutbox(db: Database, recorder: OutboxRecorder): void {
  recorders.set(db, { recorder, insert: db.prepare('INSERT INTO notification_outbox (at, action, media_type, event) VALUES (?, ?, ?, ?)') })
}

/** Inside the transaction of the change `draft` describes; nothing when no endpoint listens. */
export async function recordNotification(db: Database, draft: OutboxDraft): Promise<void> {
  const attached = recorders.get(db)
  if (!attached) return
  const row = attached.recorder.event(draft)
  await attached.insert.run(row.at, row.action, row.mediaType, row.event)
  queueMicrotask(() => attached.recorder.recorded())
}

/** Whether drafts on `db` are recorded (a writer may skip building a costly one when not). */
export function isRecording(db: Database): boolean {
  return recorders.has(db)
}

/**
 * Pull events, which are not changes: rows built when each pull happened, a batch of them in one
 * transaction of their own (not fsynced: a crash may lose the pulls of its last moments, never
 * a change's event).
 */
export async function recordPulls(db: Database, rows: OutboxEventRow[]): Promise<void> {
  const attached = recorders.get(db)
  if (!attached || rows.length === 0) return
  await writeTransaction(db, async () => {
    for (const row of rows) await attached.insert.run(row.at, row.action, row.mediaType, row.event)
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

  constructor(private readonly db: Database) {
    this.s = {
      rows: db.prepare('SELECT seq, at, action, media_type, event FROM notification_outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      // The columns before `event` in the record: reading them leaves the event's pages unread.
      kinds: db.prepare('SELECT seq, at, action, media_type FROM notification_outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      place: db.prepare('SELECT delivered_seq AS seq FROM notification_endpoints WHERE name = ?'),
      // Never backwards: SQLite's two-argument MAX is PostgreSQL's GREATEST.
      setPlace: db.prepare({
        sqlite: 'INSERT INTO notification_endpoints (name, delivered_seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET delivered_seq = MAX(notification_endpoints.delivered_seq, excluded.delivered_seq)',
        postgres: 'INSERT INTO notification_endpoints (name, delivered_seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET delivered_seq = GREATEST(notification_endpoints.delivered_seq, excluded.delivered_seq)',
      }),
      last: db.prepare({
        sqlite: "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'notification_outbox'), 0) AS seq",
        // A PostgreSQL sequence is not rolled back with its transaction, so its value may be past
        // every row: the last row kept, or when none is, the furthest place (rows go only once
        // every endpoint is past them). Two index lookups.
        postgres: `SELECT GREATEST(COALESCE((SELECT MAX(seq) FROM notification_outbox), 0),
                                   COALESCE((SELECT MAX(delivered_seq) FROM notification_endpoints), 0)) AS seq`,
      }),
      remove: db.prepare('DELETE FROM notification_outbox WHERE seq <= ?'),
      endpoints: db.prepare('SELECT name, delivered_seq AS seq FROM notification_endpoints'),
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
  start(endpoints: Array<{ name: string; disabled: boolean }>): Promise<OutboxStart> {
    return writeTransaction(this.db, async () => {
      const names = new Set(endpoints.map((e) => e.name))
      const forgotten: string[] = []
      for (const { name } of (await this.s.endpoints.all()) as Array<{ name: string }>) {
        if (names.has(name)) continue
        await this.s.forget.run(name)
        forgotten.push(name)
      }
      const last = ((await this.s.last.get()) as { seq: number }).seq
      const places = new Map<string, number>()
      for (const e of endpoints) {
        const known = (await this.s.place.get(e.name)) as { seq: number } | undefined
        const place = e.disabled || known === undefined ? last : known.seq
        await this.s.setPlace.run(e.name, place)
        if (!e.disabled) places.set(e.name, place)
      }
      const removed = (await this.s.remove.run(places.size === 0 ? last : Math.min(...places.values()))).changes
      return { places, forgotten, removed }
    })
  }

  async rowsAfter(seq: number, limit: number): Promise<OutboxRow[]> {
    return (await this.s.rows.all(seq, limit)) as OutboxRow[]
  }

  /**
   * Resolves once every write transaction open when it was called has ended: a sender woken by a
   * row recorded inside a writer's transaction waits here, so its next read sees the row (on
   * PostgreSQL a read does not wait for writers). An empty, non-durable write transaction: both
   * engines grant them one at a time.
   */
  async afterWriters(): Promise<void> {
    await writeTransaction(this.db, async () => {}, { durable: false })
  }

  /**
   * The last seq handed out: one lookup in sqlite_sequence, not a count. seq has no gaps past
   * the oldest endpoint's place (a rolled-back insert rolls sqlite_sequence back with it, and
   * rows go only once every endpoint is past them), so `last() - place` is what is pending.
   * On PostgreSQL the last seq kept: a rolled-back insert leaves a gap there, counted as pending
   * until the endpoints are past it.
   */
  async last(): Promise<number> {
    return ((await this.s.last.get()) as { seq: number }).seq
  }

  /** Up to `limit` rows past `seq`, oldest first. */
  async kindsAfter(seq: number, limit: number): Promise<OutboxKind[]> {
    return (await this.s.kinds.all(seq, limit)) as OutboxKind[]
  }

  /** The endpoint's place in the database (undefined when no place is recorded for it). */
  async placeOf(name: string): Promise<number | undefined> {
    return ((await this.s.place.get(name)) as { seq: number } | undefined)?.seq
  }

  /** Every recorded place, by endpoint name: one read of a table of a few rows. */
  async places(): Promise<Map<string, number>> {
    return new Map(((await this.s.endpoints.all()) as Array<{ name: string; seq: number }>).map((r) => [r.name, r.seq]))
  }

  /**
   * Moves an endpoint's place from `from` (where its sender last recorded it) to `to`, never
   * backwards (not fsynced: a place lost in a crash only sends its events again, which
   * at-least-once delivery allows), and removes the rows every endpoint is past, the endpoints
   * in `notSent` (disabled ones, whose places stay where they were) left out. Returns false when
   * the place was no longer at `from`: another replica delivered meanwhile. Inside one write
   * transaction, which both engines grant one at a time, so the comparison and the move are one.
   */
  async advance(name: string, from: number, to: number, notSent: ReadonlySet<string>): Promise<boolean> {
    return await writeTransaction(
      this.db,
      async () => {
        const was = await this.placeOf(name)
        await this.s.setPlace.run(name, to)
        const sent = [...(await this.places())].filter(([endpoint]) => !notSent.has(endpoint)).map(([, seq]) => seq)
        if (sent.length > 0) await this.s.remove.run(Math.min(...sent))
        return was === undefined || was === from
      },
      { durable: false },
    )
  }
}
