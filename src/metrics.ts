// The registry's Prometheus metrics (prom-client), in one registry of their own. app.ts builds
// it and hands each part only the method it reports through: the request observer (requests,
// latency, bytes, pushes, pulls), the authenticator's callbacks (failures, lockouts), the
// database's transaction observer (commit latency), the upload purging (purges). What is a
// count of stored things (blobs, bytes, open uploads, garbage-collection runs recorded by any
// process) is read from the metadata: blobs, packs, versions and collections every refresh interval (a
// database scan per scrape would let the scrape rate decide the load), open uploads at scrape
// time (one indexed count). This process's replica id is a label of packyard_replica_info, and
// the replicas recorded in the database are counted by state at each refresh. Process metrics (collectDefaultMetrics) belong to the process, not
// to one app: they are collected once, in a registry of their own, and scraped with each app's.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { GcTotals } from './meta/events.js'
import { REPLICA_STATES, type ReplicaState } from './meta/replicas.js'
import type { SyncUpstreamTotals } from './meta/sync.js'
import { registerSyncMetrics } from './sync/metrics.js'
import type { EndpointStatus } from './notifications/sender.js'
import { VERSION } from './version.js'

/** Where a push or pull came in: the /v1 pack API, the distribution API on /v1, or /v2. */
export type Surface = 'v1-packs' | 'v1-distribution' | 'v2'
export const SURFACES: readonly Surface[] = ['v1-packs', 'v1-distribution', 'v2']

/**
 * created / updated / unchanged as the push answered; refused: the push was answered 4xx (the
 * client's mistake); failed: answered 5xx (507 storage full, an unreachable bucket).
 */
export type PushOutcome = 'created' | 'updated' | 'unchanged' | 'refused' | 'failed'
const PUSH_OUTCOMES: readonly PushOutcome[] = ['created', 'updated', 'unchanged', 'refused', 'failed']

/** What the metadata says about stored things, read on each refresh or scrape. */
export interface MetricSources {
  storedBlobs(): Promise<{ count: number; bytes: number }>
  packTotals(): Promise<{ packs: number; versions: number }>
  gcTotals(): Promise<GcTotals>
  openUploads(): Promise<number>
  /** Each upstream's sync runs (packyard_sync_*). */
  syncTotals(): Promise<SyncUpstreamTotals[]>
  /** The replicas recorded in the database, counted by state (packyard_replicas). */
  replicaCounts(): Promise<Record<ReplicaState, number>>
}

export interface FinishedRequest {
  method: string
  /** The route's pattern (`/v1/_packs/:name`), never the raw URL, so the series stay few. */
  route: string
  status: number
  seconds: number
  bytesIn: number
  bytesOut: number
}

/** HTTP latency: from a cached manifest (a millisecond) to a gigabyte upload (a minute). */
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
/** A notification: from its change to its receiver's answer; a receiver that was down makes hours. */
const DELIVERY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400]
/** A write transaction: a fsync or two, unless it waited for the write lock. */
const TRANSACTION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5]

let processRegistry: Registry | undefined

/** CPU, memory, event loop, garbage collector of this process; its observers are started once. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

export class RegistryMetrics {
  readonly registry = new Registry()
  private readonly requests: Counter<'method' | 'route' | 'status'>
  private readonly latency: Histogram<'method' | 'route'>
  private readonly received: Counter<'route'>
  private readonly sent: Counter<'route'>
  private readonly pushes: Counter<'surface' | 'outcome'>
  private readonly pulls: Counter<'surface'>
  private readonly authFailures: Counter
  private readonly lockouts: Counter<'scope'>
  private readonly transactions: Histogram
  private readonly purgeRuns: Counter
  private readonly purgedUploads: Counter<'what'>
  private readonly purgedBytes: Counter
  private readonly deliveries: Histogram<'endpoint'>
  private notificationStatus: () => Promise<EndpointStatus[]> = async () => []
  private stored = { count: 0, bytes: 0 }
  private packs = { packs: 0, versions: 0 }
  private gc: GcTotals = { runs: 0, blobsRemoved: 0, bytesFreed: 0 }
  private syncs: SyncUpstreamTotals[] = []
  private replicas: Record<ReplicaState, number> = { live: 0, gone: 0 }
  private timer: NodeJS.Timeout | undefined

  /** `replica`: this process's replica.id. */
  constructor(
    private readonly sources: MetricSources,
    replica: string,
  ) {
    const registers = [this.registry]
    this.requests = new Counter({ name: 'packyard_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status', labelNames: ['method', 'route', 'status'], registers })
    this.latency = new Histogram({
      name: 'packyard_http_request_duration_seconds',
      help: 'Time from a request arriving to its response being sent, by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: HTTP_BUCKETS,
      registers,
    })
    this.received = new Counter({ name: 'packyard_http_received_bytes_total', help: 'Bytes received from clients (headers and bodies), by route pattern', labelNames: ['route'], registers })
    this.sent = new Counter({ name: 'packyard_http_sent_bytes_total', help: 'Bytes sent to clients (headers and bodies), by route pattern', labelNames: ['route'], registers })
    this.pushes = new Counter({
      name: 'packyard_pushes_total',
      help: 'Pushes of packs and manifests, by surface (v1-packs: POST /v1/_packs; v1-distribution, v2: manifest PUTs) and outcome',
      labelNames: ['surface', 'outcome'],
      registers,
    })
    this.pulls = new Counter({
      name: 'packyard_pulls_total',
      help: 'Pulls: pack archives downloaded (v1-packs) and manifests fetched with GET (v1-distribution, v2), by surface',
      labelNames: ['surface'],
      registers,
    })
    this.authFailures = new Counter({ name: 'packyard_auth_failures_total', help: 'Credentials refused (wrong password or unknown user)', registers })
    this.lockouts = new Counter({
      name: 'packyard_auth_lockouts_total',
      help: 'Login lockouts: a user name from one address (scope user) or a whole address (scope address)',
      labelNames: ['scope'],
      registers,
    })
    this.transactions = new Histogram({
      name: 'packyard_db_write_transaction_seconds',
      help: 'SQLite write transactions, from BEGIN IMMEDIATE (waiting for the lock included) to COMMIT',
      buckets: TRANSACTION_BUCKETS,
      registers,
    })
    this.purgeRuns = new Counter({ name: 'packyard_upload_purge_runs_total', help: 'Runs of the purging of abandoned uploads (storage.maintenance.uploadpurging)', registers })
    this.purgedUploads = new Counter({
      name: 'packyard_upload_purged_total',
      help: 'Abandoned uploads removed by the purging: upload sessions, and staged files no session owned',
      labelNames: ['what'],
      registers,
    })
    this.purgedBytes = new Counter({ name: 'packyard_upload_purged_bytes_total', help: 'Bytes of abandoned uploads removed by the purging', registers })

    const metrics = this
    new Gauge({ name: 'packyard_build_info', help: 'Always 1; the version label says which Packyard is running', labelNames: ['version'], registers }).set({ version: VERSION }, 1)
    new Gauge({
      name: 'packyard_replica_info',
      help: 'Always 1; the replica label is this server\'s replica.id, the version label its Packyard version',
      labelNames: ['replica', 'version'],
      registers,
    }).set({ replica, version: VERSION }, 1)
    new Gauge({
      name: 'packyard_replicas',
      help: 'Replicas recorded in the database, by state: live (its heartbeat seen within the last three beats), gone (not seen since; forgotten after a day); refreshed every minute',
      labelNames: ['state'],
      registers,
      collect() {
        for (const state of REPLICA_STATES) this.set({ state }, metrics.replicas[state])
      },
    })
    new Gauge({
      name: 'packyard_packs',
      help: 'Packs with at least one version (refreshed every minute)',
      registers,
      collect() {
        this.set(metrics.packs.packs)
      },
    })
    new Gauge({
      name: 'packyard_pack_versions',
      help: 'Pack versions, across all packs (refreshed every minute)',
      registers,
      collect() {
        this.set(metrics.packs.versions)
      },
    })
    new Gauge({
      name: 'packyard_upload_sessions_open',
      help: 'OCI upload sessions started and not yet finished, cancelled or purged',
      registers,
      async collect() {
        this.set(await metrics.sources.openUploads())
      },
    })
    new Gauge({
      name: 'packyard_blobs',
      help: 'Blobs in the store (as the metadata records them; refreshed every minute)',
      registers,
      collect() {
        this.set(metrics.stored.count)
      },
    })
    new Gauge({
      name: 'packyard_blob_bytes',
      help: 'Bytes of the blobs in the store (as the metadata records them; refreshed every minute)',
      registers,
      collect() {
        this.set(metrics.stored.bytes)
      },
    })
    const gcCounter = (name: string, help: string, value: (totals: GcTotals) => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset()
          this.inc(value(metrics.gc))
        },
      })
    gcCounter('packyard_gc_runs_total', 'Garbage-collection runs (packyard garbage-collect) recorded in the event log; refreshed every minute', (g) => g.runs)
    gcCounter('packyard_gc_removed_blobs_total', 'Blobs removed by garbage collection; refreshed every minute', (g) => g.blobsRemoved)
    gcCounter('packyard_gc_reclaimed_bytes_total', 'Bytes reclaimed by garbage collection; refreshed every minute', (g) => g.bytesFreed)
    registerSyncMetrics(registers, () => metrics.syncs)

    this.deliveries = new Histogram({
      name: 'packyard_notification_delivery_seconds',
      help: 'Notification events delivered, by endpoint: time from the change to the receiver accepting it',
      labelNames: ['endpoint'],
      buckets: DELIVERY_BUCKETS,
      registers,
    })
    // Read from the senders at scrape time; they count from the process's start.
    const perEndpoint = (name: string, help: string, kind: 'gauge' | 'counter', value: (s: EndpointStatus) => number) => {
      const collect = async function (this: Gauge<'endpoint'> | Counter<'endpoint'>): Promise<void> {
        const statuses = await metrics.notificationStatus()
        this.reset()
        for (const status of statuses) this.inc({ endpoint: status.name }, value(status))
      }
      if (kind === 'gauge') new Gauge({ name, help, labelNames: ['endpoint'], registers, collect })
      else new Counter({ name, help, labelNames: ['endpoint'], registers, collect })
    }
    perEndpoint('packyard_notification_pending', 'Notification events in the outbox not yet delivered to the endpoint', 'gauge', (s) => s.pending)
    perEndpoint('packyard_notification_failing', '1 while the endpoint has refused threshold attempts in a row, else 0', 'gauge', (s) => (s.state === 'failing' ? 1 : 0))
    perEndpoint('packyard_notification_delivered_total', 'Notification events the endpoint accepted', 'counter', (s) => s.delivered)
    perEndpoint('packyard_notification_failed_attempts_total', 'Deliveries to the endpoint that failed (an error status, no answer within timeout, unreachable); each is retried', 'counter', (s) => s.failedAttempts)
    perEndpoint('packyard_notification_dropped_total', 'Notification events dropped undelivered, past notifications.retention', 'counter', (s) => s.dropped)

    // Every series of a fixed label set exists from the start, so rate() sees the first event.
    for (const surface of SURFACES) {
      this.pulls.inc({ surface }, 0)
      for (const outcome of PUSH_OUTCOMES) this.pushes.inc({ surface, outcome }, 0)
    }
    for (const scope of ['user', 'address']) this.lockouts.inc({ scope }, 0)
    for (const what of ['sessions', 'files']) this.purgedUploads.inc({ what }, 0)
  }

  get contentType(): string {
    return this.registry.contentType
  }

  /** The Prometheus text exposition of every metric, the process's included. */
  async text(): Promise<string> {
    return `${await processMetrics().metrics()}\n${await this.registry.metrics()}`
  }

  request(r: FinishedRequest): void {
    this.requests.inc({ method: r.method, route: r.route, status: String(r.status) })
    this.latency.observe({ method: r.method, route: r.route }, r.seconds)
    if (r.bytesIn > 0) this.received.inc({ route: r.route }, r.bytesIn)
    if (r.bytesOut > 0) this.sent.inc({ route: r.route }, r.bytesOut)
  }

  push(surface: Surface, outcome: PushOutcome): void {
    this.pushes.inc({ surface, outcome })
  }

  pull(surface: Surface): void {
    this.pulls.inc({ surface })
  }

  authFailure(): void {
    this.authFailures.inc()
  }

  lockout(scope: 'user' | 'address'): void {
    this.lockouts.inc({ scope })
  }

  writeTransaction(seconds: number): void {
    this.transactions.observe(seconds)
  }

  /** Where the notification metrics read each endpoint's state. */
  watchNotifications(status: () => Promise<EndpointStatus[]>): void {
    this.notificationStatus = status
  }

  notificationDelivered(endpoint: string, seconds: number): void {
    this.deliveries.observe({ endpoint }, seconds)
  }

  uploadsPurged(result: { sessions: number; files: number; bytes: number }): void {
    this.purgeRuns.inc()
    this.purgedUploads.inc({ what: 'sessions' }, result.sessions)
    this.purgedUploads.inc({ what: 'files' }, result.files)
    this.purgedBytes.inc(result.bytes)
  }

  /** Reads the stored blobs, the packs and versions, the garbage-collection totals and the replicas from the metadata. */
  async refresh(): Promise<void> {
    this.stored = await this.sources.storedBlobs()
    this.packs = await this.sources.packTotals()
    this.gc = await this.sources.gcTotals()
    this.syncs = await this.sources.syncTotals()
    this.replicas = await this.sources.replicaCounts()
  }

  /** Refreshes now, then every `intervalMs` until stop(); the timer never keeps the process alive. */
  start(intervalMs: number, onError: (err: unknown) => void): void {
    const refresh = () => {
      this.refresh().catch(onError)
    }
    refresh()
    this.timer = setInterval(refresh, intervalMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }
}
