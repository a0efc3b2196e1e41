// Delivery of the outbox to the configured endpoints: one sender per enabled endpoint, each on
// its own, so a slow or failing receiver holds back only itself and never a push (pushes only
// insert a row). A sender posts the events past its place in order, in batches, and moves its
// place only when the receiver accepted the batch (2xx or 3xx, as distribution counts it);
// otherwise it waits `backoff`, doubled per consecutive failure up to MAX_BACKOFF_MS, and sends
// the same events again with the same ids (at least once: the receiver drops duplicates by id).
// The place is kept in the database, so a restart resumes where delivery stopped. Events older
// than notifications.retention.maxage, or past maxevents undelivered, are dropped, counted and
// logged.
//
// Several replicas on one PostgreSQL database: each endpoint is delivered by one replica at a
// time, the one whose sender holds `notifications:<endpoint>` (Database.exclusively, a session
// advisory lock). The holder keeps it for as long as it runs: at the start of each turn it reads
// the place from the database (another replica may have delivered meanwhile), and when idle it
// reads the outbox again when a write of its own process wakes it or every POLL_MS, which is
// how events written on other replicas reach it. The others try to take it every TAKEOVER_MS,
// so when the holder stops (its lock is released) or dies (PostgreSQL drops its connection and
// the lock with it) another delivers what remains within seconds. Holding costs one pooled
// connection per endpoint on the holding replica for as long as it holds (database.pool must
// leave room for them); giving the lock up now and then would not spare it (the holder would
// take it straight back) but would open a window for duplicates at each hand-over. A holder
// whose lock connection died while the process lives does not learn it from the lock: it
// checks every POLL_MS that the lock is not free, and each advance of its place tells it
// whether another replica moved the place meanwhile (OutboxReader.advance); either ends its turn
// (a batch may then be delivered twice, which at-least-once allows). On SQLite (one server) the
// lock is within the process, the sender always holds it, and every write wakes it: it neither
// polls nor checks its lock.

import type { NotificationEndpoint } from '../config/notifications.js'
import { MAX_BACKOFF_MS } from '../config/notifications.js'
import type { Database, ExclusiveOutcome } from '../meta/database.js'
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
/**
 * How often an idle holder reads the outbox with nothing waking it (events written on another
 * replica wake nothing here: they are delivered within about this), and checks its lock.
 */
const POLL_MS = 1000
/** How often a replica whose endpoint another holds tries to take it (a dead holder's successor waits at most this). */
const TAKEOVER_MS = 3000

/** standby: another replica holds the endpoint and delivers it (several replicas on one database). */
export type EndpointState = 'delivering' | 'idle' | 'retrying' | 'failing' | 'disabled' | 'standby'

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
  /** Whether this process delivers the endpoint now, another replica does ('other'), or neither is known yet. */
  private holder: 'this' | 'other' | null = null
  /** The current sleep waits for a turn another replica holds: this process's writes do not end it. */
  private standingBy = false
  /** The place as last read from or written to the database: what an advance expects to find. */
  private stored: number
  /** An advance found the place moved by another replica: the turn ends. */
  private overtaken = false
  /** When the holder next checks that its lock is still held. */
  private nextProbe = 0
  /** How long an idle holder waits for a wake-up before it reads the outbox again (null: until woken, SQLite). */
  private readonly poll: number | null

  constructor(
    readonly endpoint: NotificationEndpoint,
    /** The last place this process delivered to or read: behind the database's when another replica delivered since. */
    public place: number,
    private readonly db: Database,
    private readonly outbox: OutboxReader,
    /** The endpoints not sent to, left out when working out which rows every endpoint is past. */
    private readonly notSent: ReadonlySet<string>,
    private readonly retention: { maxAgeMs: number; maxEvents: number },
    private readonly log: NotificationLog,
    private readonly observe: LatencyObserver,
  ) {
    this.counted = place
    this.stored = place
    // Only where other replicas write to the outbox does anything happen that no wake-up here says.
    this.poll = db.sharedByReplicas ? POLL_MS : null
  }

  /** The Database.exclusively name under which replicas take turns delivering this endpoint. */
  private get lockName(): string {
    return `notifications:${this.endpoint.name}`
  }

  start(): void {
    this.loop = this.run()
  }

  /** New events: a sender waiting for some goes now (one backing off keeps waiting). */
  wake(): void {
    this.woken = true
    if (!this.backingOff && !this.standingBy) this.wakeUp?.()
  }

  /** An operator's retry: a sender backing off tries again now (one standing by tries to take the endpoint now). */
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
    if (this.holder === 'other') return 'standby'
    if (this.consecutiveFailures >= this.endpoint.threshold) return 'failing'
    if (this.consecutiveFailures > 0) return 'retrying'
    return this.sending ? 'delivering' : 'idle'
  }

  /**
   * Takes turns with the other replicas: delivers while it holds the endpoint, else tries again
   * every TAKEOVER_MS. A turn ends only when the sender stops or finds it lost the endpoint; it
   * then tries to take it again at once.
   */
  private async run(): Promise<void> {
    while (!this.stopped) {
      let turn: ExclusiveOutcome<void>
      try {
        turn = await this.db.exclusively(this.lockName, () => this.deliver())
      } catch (err) {
        this.holder = null
        this.log.error({ endpoint: this.endpoint.name, err }, `notifications: taking ${this.endpoint.name}'s turn in the database failed`)
        await this.standBy(this.endpoint.backoffMs)
        continue
      }
      if (!turn.ran) {
        this.holder = 'other'
        await this.standBy(TAKEOVER_MS)
      }
    }
  }

  /** Waits `ms` for another try at the endpoint's turn (a retry or stop ends the wait). */
  private async standBy(ms: number): Promise<void> {
    this.standingBy = true
    await this.sleep(ms)
    this.standingBy = false
  }

  /**
   * The place from the database at the start of a turn: where another replica may have moved
   * it. When it moved, what retention counted from the old place counts no longer.
   */
  private async resume(): Promise<void> {
    const stored = await this.outbox.placeOf(this.endpoint.name)
    if (stored !== undefined && stored !== this.place) {
      this.place = stored
      this.counted = stored
      this.waiting = 0
      this.nextCount = 0
    }
    this.stored = this.place
    this.overtaken = false
    this.nextProbe = this.poll === null ? Number.POSITIVE_INFINITY : Date.now() + this.poll
  }

  /**
   * Whether the lock this turn runs under is free: its connection died, PostgreSQL let it go,
   * and this process has delivered without it since. Trying to take it from another connection
   * tells (it is refused while held; SQLite, within this process, always refuses). A failing
   * database answers nothing: the turn goes on, its reads failing until it answers.
   */
  private async lostTurn(): Promise<boolean> {
    try {
      return (await this.db.exclusively(this.lockName, async () => {})).ran
    } catch {
      return false
    }
  }

  /** One turn, holding the endpoint: until stopped, overtaken by another replica, or the lock is found lost. */
  private async deliver(): Promise<void> {
    this.holder = 'this'
    try {
      await this.resume()
    } catch (err) {
      this.log.error({ endpoint: this.endpoint.name, err }, `notifications: reading ${this.endpoint.name}'s place failed`)
      await this.sleep(this.endpoint.backoffMs)
      return
    }
    while (!this.stopped) {
      if (this.overtaken) {
        this.log.warn({ endpoint: this.endpoint.name }, `notifications: another replica moved ${this.endpoint.name}'s place; this one stops delivering it and takes turns again`)
        return
      }
      if (Date.now() >= this.nextProbe) {
        if (await this.lostTurn()) {
          this.log.warn({ endpoint: this.endpoint.name }, `notifications: the database let go of ${this.endpoint.name}'s turn (its connection closed); taking turns again`)
          return
        }
        this.nextProbe = Date.now() + (this.poll ?? 0)
      }
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
        if (!this.woken) await this.sleep(this.poll)
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

  /**
   * The place moves to `seq`, past `passed` of the rows counted in `waiting`. When the database
   * had it elsewhere than this sender left it, another replica delivers too: the turn ends.
   */
  private async moveTo(seq: number, passed: number): Promise<void> {
    this.waiting = seq >= this.counted ? 0 : this.waiting - passed
    this.counted = Math.max(this.counted, seq)
    this.place = seq
    try {
      if (!(await this.outbox.advance(this.endpoint.name, this.stored, seq, this.notSent))) this.overtaken = true
      this.stored = seq
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

  /**
   * `stored`: the place in the database. Pending counts from the furthest of it and this
   * process's place (ahead of the database while a write of it failed; behind it when another
   * replica delivered since), so every replica shows the same.
   */
  status(last: number, stored: number | undefined): EndpointStatus {
    return {
      name: this.endpoint.name,
      url: shownUrl(this.endpoint.url),
      format: this.endpoint.format,
      state: this.state(),
      pending: Math.max(0, last - Math.max(this.place, stored ?? 0)),
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
    this.disabled = settings.endpoints.filter((e) => e.disabled)
    const notSent = new Set(this.disabled.map((e) => e.name))
    for (const endpoint of settings.endpoints) {
      const place = places.get(endpoint.name)
      if (place !== undefined) this.senders.push(new EndpointSender(endpoint, place, db, this.outbox, notSent, settings.retention, log, observe))
    }
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
   * Every configured endpoint, the disabled ones too, as this replica sees it: the counts are its
   * own since it started, the state 'standby' while another replica delivers the endpoint.
   * Pending is a subtraction from the outbox's last seq and the place in the database (two
   * lookups), so it is the same on every replica and a scrape of /metrics never counts the outbox.
   */
  async status(): Promise<EndpointStatus[]> {
    const [last, stored] = this.senders.length === 0 ? [0, new Map<string, number>()] : await Promise.all([this.outbox.last(), this.outbox.places()])
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
    return [...this.senders.map((s) => s.status(last, stored.get(s.endpoint.name))), ...off].sort((a, b) => a.name.localeCompare(b.name))
  }

  /** Sends what is pending for `name` now, out of its backoff; false when no such endpoint is sent to. */
  retry(name: string): boolean {
    const sender = this.senders.find((s) => s.endpoint.name === name)
    sender?.retry()
    return sender !== undefined
  }
}
