// The one owner of `replicas` (SQLite 0015, PostgreSQL 0002): each server process that runs on
// this database writes its row at start and again at every heartbeat (replica-presence.ts), so
// the registry page and /metrics can list every replica with its state. A row is whatever its
// last writer said: two processes configured with the same id take turns overwriting it, which
// the heartbeat notices (the row's start time is not its own) and logs. Rows of replicas not
// seen for a long time are deleted by the heartbeats of those still running.

import { type Database, type Statement, writeTransaction } from './database.js'

export interface ReplicaRow {
  id: string
  address: string
  version: string
  /** ms since the epoch */
  started_at: number
  last_seen: number
}

/** What this process writes at every beat. */
export interface ReplicaRecord {
  id: string
  address: string
  version: string
  startedAt: number
}

/**
 * live: seen within the last few heartbeats; gone: not seen since (stopped, killed, cut off
 * from the database). A replica that stopped cleanly is gone too: nothing marks a clean stop.
 */
export type ReplicaState = 'live' | 'gone'
export const REPLICA_STATES: readonly ReplicaState[] = ['live', 'gone']

export interface ReplicaStatus extends ReplicaRow {
  state: ReplicaState
}

/** What one beat found in the row before writing its own values over it. */
export interface BeatResult {
  /** The row as another process left it, when one with this id wrote since our last beat; else null. */
  other: ReplicaRow | null
  /** Rows of replicas gone for longer than `forgetAfterMs`, deleted by this beat. */
  forgotten: number
}

export function replicaState(row: Pick<ReplicaRow, 'last_seen'>, now: number, liveWithinMs: number): ReplicaState {
  return now - row.last_seen <= liveWithinMs ? 'live' : 'gone'
}

export class ReplicaTable {
  private readonly read: Statement<ReplicaRow>
  private readonly upsert: Statement
  private readonly forget: Statement
  private readonly all: Statement<ReplicaRow>

  constructor(private readonly db: Database) {
    const columns = 'id, address, version, started_at, last_seen'
    this.read = db.prepare(`SELECT ${columns} FROM replicas WHERE id = ?`)
    this.upsert = db.prepare(
      `INSERT INTO replicas (${columns}) VALUES (@id, @address, @version, @startedAt, @now)
       ON CONFLICT (id) DO UPDATE SET address = excluded.address, version = excluded.version, started_at = excluded.started_at, last_seen = excluded.last_seen`,
    )
    this.forget = db.prepare('DELETE FROM replicas WHERE last_seen < ?')
    this.all = db.prepare(`SELECT ${columns} FROM replicas ORDER BY id`)
  }

  /**
   * Writes `record` as seen at `now` and deletes the rows of replicas not seen since
   * `now - forgetAfterMs`. Reports the row another process with the same id left, if the row's
   * start time is not ours and it was seen within `liveWithinMs` (a row we wrote ourselves, or a
   * long-dead holder of our id, is not another process). Bookkeeping a crash may lose: not waited
   * on to reach the disk, and serialized with nothing (each replica writes only its own row).
   */
  async beat(record: ReplicaRecord, now: number, options: { liveWithinMs: number; forgetAfterMs: number }): Promise<BeatResult> {
    return writeTransaction(
      this.db,
      async () => {
        const before = await this.read.get(record.id)
        await this.upsert.run({ ...record, now })
        const { changes } = await this.forget.run(now - options.forgetAfterMs)
        const other = before !== undefined && before.started_at !== record.startedAt && replicaState(before, now, options.liveWithinMs) === 'live' ? before : null
        return { other, forgotten: changes }
      },
      { durable: false, serialize: 'none' },
    )
  }

  /** Every recorded replica with its state at `now`, by id. */
  async list(now: number, liveWithinMs: number): Promise<ReplicaStatus[]> {
    return (await this.all.all()).map((row) => ({ ...row, state: replicaState(row, now, liveWithinMs) }))
  }

  /** How many replicas are in each state at `now` (every state present, 0 when none). */
  async countByState(now: number, liveWithinMs: number): Promise<Record<ReplicaState, number>> {
    const counts: Record<ReplicaState, number> = { live: 0, gone: 0 }
    for (const replica of await this.list(now, liveWithinMs)) counts[replica.state]++
    return counts
  }
}
