// This server process's presence among the replicas sharing the metadata: from when the app is
// ready until it closes, its row in `replicas` (meta/replicas.ts) is written at start and every
// HEARTBEAT_MS after, so the registry page and /metrics show which replicas are live. A beat that
// fails (the database unreachable, a statement refused) is logged and the next one tried as
// usual: the heartbeat never stops the server. The timer never keeps the process alive, and
// stop() waits for a beat in flight, so the database can be closed right after it.

import type { FastifyBaseLogger } from 'fastify'
import type { ReplicaRecord, ReplicaState, ReplicaStatus, ReplicaTable } from './meta/replicas.js'

/** How often a replica writes its row. */
export const HEARTBEAT_MS = 5000
/** A replica is live while seen within this many heartbeats; a beat or two may be late or lost. */
export const LIVE_BEATS = 3
/** Rows of replicas gone for longer than this are deleted. */
export const FORGET_AFTER_MS = 24 * 3600_000

export interface PresenceSettings {
  id: string
  address: string
  version: string
  intervalMs?: number
  /** The clock (tests move it). */
  now?: () => number
}

export class ReplicaPresence {
  readonly id: string
  private readonly record: ReplicaRecord
  private readonly intervalMs: number
  private readonly now: () => number
  private timer: NodeJS.Timeout | undefined
  private inFlight: Promise<void> | null = null
  private stopped = false
  private beats = 0
  private failing = false
  /** When another process with this id was last found to have written the row (ms), or null. */
  private otherSeenAt: number | null = null

  constructor(
    private readonly table: ReplicaTable,
    settings: PresenceSettings,
    private readonly log: FastifyBaseLogger,
  ) {
    this.id = settings.id
    this.now = settings.now ?? Date.now
    this.intervalMs = settings.intervalMs ?? HEARTBEAT_MS
    this.record = { id: settings.id, address: settings.address, version: settings.version, startedAt: this.now() }
  }

  /** Within this many ms of its last beat a replica is live. */
  get liveWithinMs(): number {
    return LIVE_BEATS * this.intervalMs
  }

  /** Writes the row now, then every interval until stop(). */
  async start(): Promise<void> {
    await this.beat()
    this.schedule()
  }

  /** No more beats; resolves once a beat in flight has ended. */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.inFlight
  }

  /** Every recorded replica with its state now. */
  list(): Promise<ReplicaStatus[]> {
    return this.table.list(this.now(), this.liveWithinMs)
  }

  /** How many replicas are live and gone now. */
  counts(): Promise<Record<ReplicaState, number>> {
    return this.table.countByState(this.now(), this.liveWithinMs)
  }

  private schedule(): void {
    if (this.stopped) return
    // One beat at a time: the next is timed from the end of this one, so a slow database never piles them up.
    this.timer = setTimeout(() => {
      void this.beat().then(() => this.schedule())
    }, this.intervalMs)
    this.timer.unref()
  }

  private beat(): Promise<void> {
    this.inFlight = this.writeRow().finally(() => {
      this.inFlight = null
    })
    return this.inFlight
  }

  private async writeRow(): Promise<void> {
    const first = this.beats === 0
    this.beats++
    try {
      const now = this.now()
      const { other, forgotten } = await this.table.beat(this.record, now, { liveWithinMs: this.liveWithinMs, forgetAfterMs: FORGET_AFTER_MS })
      if (this.failing) this.log.info({ replica: this.id }, `replica ${this.id}: heartbeat written again`)
      this.failing = false
      if (forgotten > 0) this.log.info({ replica: this.id, forgotten }, `forgot ${forgotten} replicas not seen for a day`)
      if (other && first) {
        // At start a recent row may be this replica's own, left by a process that died moments ago (a restart).
        this.log.info({ replica: this.id, previous: describe(other) }, `replica ${this.id}: took over its record, last written at ${new Date(other.last_seen).toISOString()} by a process started at ${new Date(other.started_at).toISOString()} (a restart; if another process runs with this replica.id, the next heartbeats say so)`)
      } else if (other && (this.otherSeenAt === null || now - this.otherSeenAt > this.liveWithinMs)) {
        // Once per episode: the two take turns writing the row, so a beat of ours may follow our own.
        this.log.warn(
          { replica: this.id, other: describe(other) },
          `another process runs with replica.id ${this.id} (started at ${new Date(other.started_at).toISOString()}, version ${other.version}, at ${other.address}): give each replica its own replica.id, or the registry page and the event log cannot tell them apart`,
        )
      }
      if (other && !first) this.otherSeenAt = now
    } catch (err) {
      // The database may be unreachable for a while: said once, then quiet until a beat succeeds.
      if (!this.failing) this.log.warn({ err, replica: this.id }, `replica ${this.id}: writing its heartbeat failed; trying again every ${this.intervalMs / 1000}s`)
      this.failing = true
    }
  }
}

function describe(row: { address: string; version: string; started_at: number; last_seen: number }) {
  return { address: row.address, version: row.version, startedAt: new Date(row.started_at).toISOString(), lastSeen: new Date(row.last_seen).toISOString() }
}
