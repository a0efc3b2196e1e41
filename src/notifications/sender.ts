// Delivery of the outbox to the configured endpoints: one sender per enabled endpoint, each on
// its own, so a slow or failing receiver holds back only itself and never a push (pushes only
// insert a row). A sender posts the events past its place in order, in batches, and moves its
// place only when the receiver accepted the batch (2xx or 3xx, as distribution counts it);
// otherwise it waits `backoff`, doubled per consecutive failure up to MAX_BACKOFF_MS, and sends
// the same events again with the same ids (at least once: the receiver drops duplicates by id).
// The place is kept in the database, so a restart resumes where delivery stopped. Events older
// than notifications.retention.maxage, or past maxevents undelivered, are dropped, counted and
// logged.

import type { NotificationEndpoint } from '../config/notifications.js'
import { MAX_BACKOFF_MS } from '../config/notifications.js'
import type { Database } from '../meta/database.js'
import { attachOutbox, type OutboxDraft, type OutboxEventRow, OutboxReader, type OutboxRow, recordPulls } from '../meta/outbox.js'
import { envelope, EventRecorder } from './events.js'

/** Most events in one POST (distribution sends them one by one; a batch catches up faster). */
const BATCH_SIZE = 100
/** A pull is written with the others of the same few milliseconds, in one transaction. */
const PULL_FLUSH_MS = 50
/** How often the events written since are counted against retention.maxevents. */
const RETENTION_COUNT_MS = 10_000
/**
 * Most rows retention reads in one go (counting new ones, or dropping old ones), so a backlog of
 * millions is worked through a slice per turn of the loop and never holds the event loop.
 */
const RETENTION_SLICE = 10_000
/** Most pulls waiting to be written; past it they are written at once. */
const PULL_BATCH = 500

export type EndpointState = 'delivering' | 'idle' | 'retrying' | 'failing' | 'disabled'

export interface EndpointStatus {
  name: string
  /** The receiver's origin only: a webhook URL's path and the headers often carry its secret. */
  url: string
  format: 'distribution' | 'cloudevents'
  state: EndpointState
  pending: number
  delivered: number
  failedAttempts: number
  consecutiveFailures: number
  dropped: number
  lastError: string | null
  lastDeliveryAt: string | null
  nextAttemptAt: string | null
}

export interface NotificationLog {
  info(obj: object, message: string): void
  warn(obj: object, message: string): void
  error(obj: object, message: string): void
}

export interface NotificationSettings {
  endpoints: NotificationEndpoint[]
  includeReferences: boolean
  retention: { maxAgeMs: number; maxEvents: number }
  namespace: string
  port: number
}

/** What is shown and logged of a receiver's URL: its origin (the path may hold a token). */
export function shownUrl(url: string): string {
  return new URL(url).origin
}

/** Told of each delivered event's time from its change to its receiver's answer. */
export type LatencyObserver = (endpoint: string, seconds: number) => void

class EndpointSender {
  delivered = 0
  failedAttempts = 0
  consecutiveFailures = 0
  dropped = 0
  lastError: string | null = null
  lastDeliveryAt: number | null = null
  nextAttemptAt: number | null = null
  private sending = false
  private stopped = false
  private wakeUp: (() => void) | null = null
  /** When the rows written since `counted` are next counted. */
  private nextCount = 0
  /** The rows up to this seq are counted in `waiting`. */
  private counted: number
  /** Rows between the place and `counted` this endpoint would be sent: what is held against retention.maxevents. */
  private waiting = 0
  /** The current sleep is a backoff: new events do not end it, only a retry does. */
  private backingOff = false
  /**
   * Events were recorded since the last read began: the next read waits for the writers first
   * (their rows may not be committed yet), and the sender does not go to sleep before it.
   */
  private woken = false
  private inFlight: AbortController | null = null
  private loop: Promise<void> | null = null

  constructor(
    readonly endpoint: NotificationEndpoint,
    public place: number,
    private readonly outbox: OutboxReader,
    private readonly everyone: () => number,
    private readonly retention: { maxAgeMs: number; maxEvents: number },
    private readonly log: NotificationLog,
    private readonly observe: LatencyObserver,
  ) {
    this.counted = place
  }

  start(): void {
    this.loop = this.run()
  }

  /** New events: a sender waiting for some goes now (one backing off keeps waiting). */
  wake(): void {
    this.woken = true
    if (!this.backingOff) this.wakeUp?.()
  }

  /** An operator's retry: a sender backing off tries again now. */
  retry(): void {
    this.nextAttemptAt = null
    this.nextCount = 0
    this.wakeUp?.()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.inFlight?.abort()
    this.wakeUp?.()
    await this.loop
  }

  state(): EndpointState {
    if (this.consecutiveFailures >= this.endpoint.threshold) return 'failing'
    if (this.consecutiveFailures > 0) return 'retrying'
    return this.sending ? 'delivering' : 'idle'
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let rows: OutboxRow[]
      try {
        if (this.woken) {
          this.woken = false
          await this.outbox.afterWriters()
        }
        await this.dropPastRetention()
        rows = await this.outbox.rowsAfter(this.place, BATCH_SIZE)
      } catch (err) {
        // The database is closing or failing: try again after a backoff.
        this.log.error({ endpoint: this.endpoint.name, err }, `notifications: reading the outbox for ${this.endpoint.name} failed`)
        await this.sleep(this.endpoint.backoffMs)
        continue
      }
      if (rows.length === 0) {
        if (!this.woken) await this.sleep(null)
        continue
      }
      const events = rows.filter((r) => this.wanted(r))
      const last = (rows[rows.length - 1] as OutboxRow).seq
      if (events.length === 0) {
        await this.moveTo(last, 0)
        continue
      }
      this.sending = true
      const error = await this.post(events)
      this.sending = false
      if (this.stopped) return
      if (error === null) {
        const now = Date.now()
        for (const e of events) this.observe(this.endpoint.name, Math.max(0, now - e.at) / 1000)
        this.delivered += events.length
        this.lastDeliveryAt = now
        if (this.consecutiveFailures >= this.endpoint.threshold) {
          this.log.info({ endpoint: this.endpoint.name }, `notifications: ${this.endpoint.name} accepts events again after ${this.consecutiveFailures} failed attempts`)
        }
        this.consecutiveFailures = 0
        this.lastError = null
        await this.moveTo(last, events.length)
        continue
      }
      this.failedAttempts++
      this.consecutiveFailures++
      this.lastError = error
      const wait = Math.min(MAX_BACKOFF_MS, this.endpoint.backoffMs * 2 ** Math.min(this.consecutiveFailures - 1, 30))
      const about = { endpoint: this.endpoint.name, origin: shownUrl(this.endpoint.url), error, failures: this.consecutiveFailures, retryInMs: wait }
      if (this.consecutiveFailures === this.endpoint.threshold) {
        this.log.error(about, `notifications: endpoint ${this.endpoint.name} is failing: ${this.consecutiveFailures} attempts in a row refused (${error}); events wait in the outbox and are retried`)
      } else {
        this.log.warn(about, `notifications: delivery to ${this.endpoint.name} failed (${error}); retrying in ${wait} ms`)
      }
      this.nextAttemptAt = Date.now() + wait
      this.backingOff = true
      await this.sleep(wait)
      this.backingOff = false
      this.nextAttemptAt = null
    }
  }

  private wanted(row: Pick<OutboxRow, 'action' | 'media_type'>): boolean {
    return !this.endpoint.ignoredActions.includes(row.action) && !this.endpoint.ignoredMediaTypes.includes(row.media_type)
  }

  /** The place moves to `seq`, past `passed` of the rows counted in `waiting`. */
  private async moveTo(seq: number, passed: number): Promise<void> {
    this.waiting = seq >= this.counted ? 0 : this.waiting - passed
    this.counted = Math.max(this.counted, seq)
    this.place = seq
    try {
      await this.outbox.advance(this.endpoint.name, seq, this.everyone)
    } catch (err) {
      // Kept in memory: the next move writes it; a restart before then sends these again.
      this.log.error({ endpoint: this.endpoint.name, err }, `notifications: recording ${this.endpoint.name}'s place in the outbox failed`)
    }
  }

  /**
   * Events past the retention go, counted: the oldest first, while older than maxage or more
   * than maxevents wait. Only the events this endpoint would be sent count, towards maxevents
   * and as dropped: another endpoint's pulls never push out its pushes. Nothing counts the whole outbox: the rows written since the last count
   * are added to `waiting` (every RETENTION_COUNT_MS, and on a retry), and the rows dropped are
   * read from the place on; both a slice at a time.
   */
  private async dropPastRetention(): Promise<void> {
    const { maxAgeMs, maxEvents } = this.retention
    const now = Date.now()
    if (now >= this.nextCount && (await this.countNew())) this.nextCount = now + RETENTION_COUNT_MS
    const cutoff = now - maxAgeMs
    let excess = this.waiting - maxEvents
    let to = this.place
    let dropped = 0
    // Usually nothing is past the retention, which the first row tells: one row read.
    let rows = await this.outbox.kindsAfter(this.place, 1)
    const oldest = rows[0]
    if (oldest !== undefined && (oldest.at < cutoff || excess > 0)) rows = await this.outbox.kindsAfter(this.place, RETENTION_SLICE)
    for (const row of rows) {
      if (row.at >= cutoff && excess <= 0) break
      to = row.seq
      if (this.wanted(row)) {
        dropped++
        excess--
      }
    }
    if (to !== this.place && dropped === 0) {
      // Only rows it ignores: passed by, as sending would.
      await this.moveTo(to, 0)
      return
    }
    if (dropped === 0) return
    this.dropped += dropped
    this.log.error(
      { endpoint: this.endpoint.name, dropped, maxAgeMs, maxEvents },
      `notifications: dropped ${dropped} events ${this.endpoint.name} had not accepted, past notifications.retention`,
    )
    await this.moveTo(to, dropped)
  }

  /** Counts a slice of the rows written since the last count; true once all are counted. */
  private async countNew(): Promise<boolean> {
    const rows = await this.outbox.kindsAfter(this.counted, RETENTION_SLICE)
    for (const row of rows) {
      this.counted = row.seq
      if (this.wanted(row)) this.waiting++
    }
    return rows.length < RETENTION_SLICE
  }

  /** null when the receiver accepted the batch, else what went wrong. */
  private async post(events: OutboxRow[]): Promise<string | null> {
    const { contentType, body } = envelope(this.endpoint.format, events.map((e) => e.event))
    const headers: Array<[string, string]> = [['content-type', contentType]]
    for (const [name, values] of Object.entries(this.endpoint.headers)) for (const v of values) headers.push([name, v])
    const controller = new AbortController()
    this.inFlight = controller
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${this.endpoint.timeoutMs} ms`)), this.endpoint.timeoutMs)
    try {
      const response = await fetch(this.endpoint.url, { method: 'POST', headers, body, signal: controller.signal })
      await response.arrayBuffer()
      return response.status >= 200 && response.status < 400 ? null : `HTTP ${response.status}`
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause
      if (controller.signal.aborted) return String((controller.signal.reason as Error)?.message ?? 'aborted')
      return cause?.code ?? cause?.message ?? (err as Error).message
    } finally {
      clearTimeout(timer)
      this.inFlight = null
    }
  }

  /** Until woken, or `ms` passed (null: until woken). */
  private sleep(ms: number | null): Promise<void> {
    if (this.stopped) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = ms === null ? null : setTimeout(done, ms)
      function done(): void {
        if (timer) clearTimeout(timer)
        resolve()
      }
      this.wakeUp = () => {
        this.wakeUp = null
        done()
      }
    })
  }

  status(last: number): EndpointStatus {
    return {
      name: this.endpoint.name,
      url: shownUrl(this.endpoint.url),
      format: this.endpoint.format,
      state: this.state(),
      pending: Math.max(0, last - this.place),
      delivered: this.delivered,
      failedAttempts: this.failedAttempts,
      consecutiveFailures: this.consecutiveFailures,
      dropped: this.dropped,
      lastError: this.lastError,
      lastDeliveryAt: this.lastDeliveryAt === null ? null : new Date(this.lastDeliveryAt).toISOString(),
      nextAttemptAt: this.nextAttemptAt === null ? null : new Date(this.nextAttemptAt).toISOString(),
    }
  }
}

/**
 * The outbox at start (OutboxReader.start()), logging what it dropped. Also run with no endpoint
 * configured, so the rows and places of endpoints removed from the config do not stay.
 */
export async function startOutbox(outbox: OutboxReader, endpoints: Array<{ name: string; disabled: boolean }>, log: NotificationLog): Promise<Map<string, number>> {
  const { places, forgotten, removed } = await outbox.start(endpoints)
  if (forgotten.length > 0 || removed > 0) {
    log.info({ forgottenEndpoints: forgotten, droppedEvents: removed }, `notifications: dropped ${removed} event(s) no configured endpoint is still to be sent${forgotten.length > 0 ? ` and the places of endpoints no longer configured (${forgotten.join(', ')})` : ''}`)
  }
  return places
}

/** Every endpoint's sender, the recorder of events and the pulls waiting to be written. */
export class Notifications {
  readonly recorder: EventRecorder
  private readonly senders: EndpointSender[] = []
  private readonly disabled: NotificationEndpoint[]
  private pulls: OutboxEventRow[] = []
  private pullTimer: NodeJS.Timeout | null = null
  /** The pull batches being written, one after the other. */
  private flushing: Promise<void> = Promise.resolve()
  private stopped = false

  /** Starts the outbox (startOutbox) for these endpoints and sets up their senders. */
  static async open(db: Database, settings: NotificationSettings, log: NotificationLog, observe: LatencyObserver = () => {}): Promise<Notifications> {
    const outbox = new OutboxReader(db)
    const places = await startOutbox(outbox, settings.endpoints, log)
    return new Notifications(db, outbox, places, settings, log, observe)
  }

  private constructor(
    private readonly db: Database,
    private readonly outbox: OutboxReader,
    places: Map<string, number>,
    settings: NotificationSettings,
    private readonly log: NotificationLog,
    observe: LatencyObserver,
  ) {
    this.recorder = new EventRecorder({ namespace: settings.namespace, includeReferences: settings.includeReferences, port: settings.port, wake: () => this.wakeAll() })
    const everyone = () => Math.min(...this.senders.map((s) => s.place))
    for (const endpoint of settings.endpoints) {
      const place = places.get(endpoint.name)
      if (place !== undefined) this.senders.push(new EndpointSender(endpoint, place, this.outbox, everyone, settings.retention, log, observe))
    }
    this.disabled = settings.endpoints.filter((e) => e.disabled)
  }

  /** Whether any endpoint is sent to (else nothing is recorded). */
  get active(): boolean {
    return this.senders.length > 0
  }

  /** Whether any endpoint takes pull events (else pulls are not recorded at all). */
  get recordsPulls(): boolean {
    return this.senders.some((s) => !s.endpoint.ignoredActions.includes('pull'))
  }

  /** Records events from now on and starts delivering (what the outbox holds first). */
  start(): void {
    if (!this.active) return
    attachOutbox(this.db, this.recorder)
    for (const s of this.senders) s.start()
  }

  /**
   * Writes the pulls still waiting and stops every sender (an in-flight POST is abandoned, and
   * sent again at the next start). Changes are still recorded until the database closes: a push
   * finishing during the shutdown keeps its event for the next start.
   */
  async stop(): Promise<void> {
    this.stopped = true
    await this.flushPulls()
    await Promise.all(this.senders.map((s) => s.stop()))
  }

  /** A manifest GET: its event is built now (with its request) and written with the others of the next few milliseconds. */
  pulled(draft: OutboxDraft): void {
    if (this.stopped || !this.recordsPulls) return
    this.pulls.push(this.recorder.event(draft))
    if (this.pulls.length >= PULL_BATCH) void this.flushPulls()
    else if (this.pullTimer === null) {
      this.pullTimer = setTimeout(() => void this.flushPulls(), PULL_FLUSH_MS)
      this.pullTimer.unref()
    }
  }

  /** Writes the pulls waiting, after the batches already being written; never rejects (a failure is logged). */
  private flushPulls(): Promise<void> {
    if (this.pullTimer) clearTimeout(this.pullTimer)
    this.pullTimer = null
    const rows = this.pulls
    this.pulls = []
    this.flushing = this.flushing.then(async () => {
      try {
        await recordPulls(this.db, rows)
      } catch (err) {
        this.log.error({ err, pulls: rows.length }, `notifications: ${rows.length} pull events could not be written to the outbox`)
      }
    })
    return this.flushing
  }

  private wakeAll(): void {
    for (const s of this.senders) s.wake()
  }

  /**
   * Every configured endpoint, the disabled ones too. Pending is a subtraction from the outbox's
   * last seq (one lookup), so a scrape of /metrics never counts the outbox.
   */
  async status(): Promise<EndpointStatus[]> {
    const last = this.senders.length === 0 ? 0 : await this.outbox.last()
    const off = this.disabled.map((e): EndpointStatus => ({
      name: e.name,
      url: shownUrl(e.url),
      format: e.format,
      state: 'disabled',
      pending: 0,
      delivered: 0,
      failedAttempts: 0,
      consecutiveFailures: 0,
      dropped: 0,
      lastError: null,
      lastDeliveryAt: null,
      nextAttemptAt: null,
    }))
    return [...this.senders.map((s) => s.status(last)), ...off].sort((a, b) => a.name.localeCompare(b.name))
  }

  /** Sends what is pending for `name` now, out of its backoff; false when no such endpoint is sent to. */
  retry(name: string): boolean {
    const sender = this.senders.find((s) => s.endpoint.name === name)
    sender?.retry()
    return sender !== undefined
  }
}
