// buildApp(config): builds the TLS service from config.http.tls (its HTTPS server is what
// Fastify listens on), opens storage and metadata, builds every service and the metrics, then
// registers the plugins in a fixed order (errors, headers, request log, Expect: 100-continue,
// OpenAPI, auth, health, the client downloads, metrics, /v1, /v2, the pack browser). It never listens; server.ts does
// (also the metrics.addr listener, with the handler built here), and tests use app.inject().
// With notification endpoints configured it also starts their senders once ready (see
// notifications/sender.ts), and with sync.registries that have a pollinterval the periodic
// mirror. From when it is ready it records this replica in the database (replica-presence.ts),
// and every event it writes names the replica. Closing the app stops the mirror and the senders,
// the replica's heartbeat, closes the database and stops the TLS service, the metrics refresh
// and the watch of the config file (auth.access.writers reloads).

import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController, type RouteOptions } from 'fastify'
import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { AuditTrail } from './audit.js'
import { Authenticator } from './auth/authenticator.js'
import { BOOTSTRAP_USER, bootstrapHtpasswd, inMemoryAdmin, retireInitialPassword } from './auth/bootstrap.js'
import type { Config } from './config/load.js'
import { watchWriters } from './config/watch.js'
import { authPlugin } from './http/auth.js'
import { installErrorHandling } from './http/errors.js'
import { parseJsonBodies } from './http/request-body.js'
import { honourExpectContinue } from './http/expect-continue.js'
import { shareLoopWithWrites } from './http/fairness.js'
import { healthPlugin } from './http/health.js'
import { clientDownloadsPlugin } from './http/client-downloads.js'
import { CLIENT_DIR, ClientDownloads } from './client-files.js'
import { installRequestLog } from './http/activity.js'
import { metricsPlugin } from './http/metrics.js'
import { openApiPlugin } from './http/openapi.js'
import { v1Plugin } from './http/v1/index.js'
import { type UiOptions, uiPlugin } from './http/ui/index.js'
import { v2Plugin } from './http/v2/index.js'
import { uploadPurgingPlugin } from './http/distribution/upload-purging.js'
import type { Database } from './meta/db.js'
import { exclusivelyWhenFree } from './meta/database.js'
import { BlobIntake } from './blobs/intake.js'
import { BlobMeta } from './meta/blobs.js'
import { EventLog, recordReplica } from './meta/events.js'
import { LoginFailures } from './meta/login-failures.js'
import { ReplicaTable } from './meta/replicas.js'
import { ReplicaPresence } from './replica-presence.js'
import { type OutboxDraft, OutboxReader } from './meta/outbox.js'
import { OciMeta } from './meta/oci.js'
import { RegistryMetrics } from './metrics.js'
import { PackMeta } from './meta/packs.js'
import { PendingTasks } from './meta/tasks.js'
import { SyncMeta } from './meta/sync.js'
import { Mirror } from './sync/mirror.js'
import { startPeriodicSync } from './sync/schedule.js'
import { OnDemand } from './sync/on-demand.js'
import { BrowseMeta } from './meta/browse.js'
import { RegistryOverview } from './browse/overview.js'
import { OciBrowser } from './browse/oci.js'
import { PackBrowser } from './browse/packs.js'
import { OciUploads, type PurgeResult } from './oci/uploads.js'
import { packServices } from './packs/pack-services.js'
import { PackViews } from './packs/views.js'
import { YamlChecker } from './packs/yaml-checker.js'
import { validatePackName } from './packs/names.js'
import { OciRegistry } from './oci/registry.js'
import { withRequest } from './notifications/events.js'
import { Notifications, startOutbox } from './notifications/sender.js'
import { openRegistryData } from './registry-data.js'
import type { BlobStore } from './store/types.js'
import type { UploadStaging } from './store/uploads.js'
import { createTlsService, type TlsService } from './tls/index.js'
import { VERSION } from './version.js'

/** The pack browser's page sizes and how much of a pack version's files it shows. */
const UI_PAGES = {
  defaultPageSize: 50,
  maxPageSize: 200,
  maxUntagged: 50,
  maxListedArchiveBytes: 64 * 1024 * 1024,
  maxListedFiles: 2000,
  maxShownFileBytes: 1024 * 1024,
  maxArtifacts: 50,
}

export interface BuildOptions {
  /** The pino logger server.ts made; tests leave it out and get a silent one. */
  logger?: FastifyBaseLogger
  /** Told of every route as it is registered, from the first (the OpenAPI completeness test lists them so). */
  onRoute?: (route: RouteOptions) => void
  /** Where the single-file client's files are served from; default dist/client of this tree. */
  clientDir?: string
}

/** How often the metrics re-read what the metadata says about stored blobs and collections. */
const METRICS_REFRESH_MS = 60_000

/** How long the YAML files of one pushed pack may take to check (plain values: about 1 MiB a second). */
const YAML_CHECK_BUDGET_MS = 1000

declare module 'fastify' {
  interface FastifyInstance {
    registry: { config: Config; db: Database; store: BlobStore; staging: UploadStaging; tls: TlsService | null; metrics: RegistryMetrics | null; notifications: Notifications | null }
  }
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  // Read the certificate files (or the ACME cache) first: a bad one must fail before anything is opened.
  // Orders start once the server listens (server.ts), when the database below is open.
  const orderTurns = (order: () => Promise<void>) => exclusivelyWhenFree(data.db, 'certificate-renewal', order)
  const tls = config.http.tls ? await createTlsService(config.http.tls, options.logger ?? pino({ level: 'silent' }), orderTurns) : null
  const storageLog = options.logger ?? pino({ level: 'silent' })
  const data = await openRegistryData(config, {
    warn: (message) => storageLog.warn(message),
    onReserveReleased: () => app.log.warn('storage full: released the space reserve so this delete can go through; delete what is no longer needed and run garbage-collect'),
  })
  const { storage, store, db } = data

  const { limits } = config
  recordReplica(db, config.replica.id)
  const replica = new ReplicaPresence(new ReplicaTable(db), { ...config.replica, version: VERSION }, options.logger ?? pino({ level: 'silent' }))
  const blobMeta = new BlobMeta(db)
  const intake = new BlobIntake(store, blobMeta)
  const events = new EventLog(db)
  const ociMeta = new OciMeta(db)
  const audit = new AuditTrail(db, limits.pageSize)
  const packMeta = new PackMeta(db)
  const syncMeta = new SyncMeta(db)
  const metrics = config.metrics.enabled
    ? new RegistryMetrics({
        storedBlobs: () => blobMeta.totals(),
        packTotals: () => packMeta.totals(),
        gcTotals: () => events.gcTotals(),
        openUploads: () => ociMeta.openSessions(),
        syncTotals: () => syncMeta.upstreams(),
        replicaCounts: () => replica.counts(),
      }, config.replica.id)
    : null
  if (metrics) db.observeWriteTransactions((seconds) => metrics.writeTransaction(seconds))
  const notificationLog = options.logger ?? pino({ level: 'silent' })
  const notifications = config.notifications.endpoints.length === 0 ? null : await setUpNotifications(db, config, notificationLog, metrics)
  // Without endpoints nothing is recorded, but what was kept for endpoints since removed goes.
  if (!notifications) await startOutbox(new OutboxReader(db), [], notificationLog)

  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    bodyLimit: config.limits.bodySize,
    // Behind these proxies, X-Forwarded-For names the client (request.ip), for throttling and logs.
    ...(config.http.trustedProxies.length > 0 ? { trustProxy: config.http.trustedProxies } : {}),
    return503OnClosing: true,
    // The server comes from the TLS service; `https: true` only makes Fastify name it https://.
    ...(tls ? { https: true, serverFactory: tls.serverFactory } : {}),
  }) as unknown as FastifyInstance
  if (options.onRoute) app.addHook('onRoute', options.onRoute)
  app.decorate('registry', { config, db, store, staging: storage.staging, tls, metrics, notifications })
  // Before the metrics' first refresh, which counts this replica then.
  app.addHook('onReady', () => replica.start())
  app.addHook('onReady', async () => metrics?.start(METRICS_REFRESH_MS, (err) => app.log.error({ err }, 'metrics: reading the blob, pack, garbage-collection, sync and replica totals failed')))
  app.addHook('onClose', async () => {
    // Before the database closes: the pulls still waiting are written, the senders stop.
    await notifications?.stop()
    metrics?.stop()
    await replica.stop()
    tls?.close()
    await data.close()
  })

  if (notifications?.active) {
    // The services find the request an event reports through it (notifications/events.ts).
    app.addHook('preHandler', (request, _reply, done) => withRequest(request, done))
    app.addHook('onReady', async () => notifications.start())
  }

  try {
    shareLoopWithWrites(app)
    installErrorHandling(app)
    parseJsonBodies(app, config.http.bodyIdleTimeoutMs, config.limits.bodySize)
    installResponseHeaders(app, config.http.headers)
    installRequestLog(app, metrics)
    honourExpectContinue(app)
    await openApiPlugin(app)
    const authenticator = await setUpAuth(app, config, storage.initialAdminPasswordFile, audit, metrics, new LoginFailures(db))
    if (authenticator && config.auth && config.file) reloadWriters(app, authenticator, config.file, config.auth.writers)
    await app.register(authPlugin, { authenticator })
    await app.register(healthPlugin, { checkDatabase: () => db.ping(), checkStorage: () => store.check() })
    const clientDownloads = new ClientDownloads(options.clientDir ?? CLIENT_DIR)
    await app.register(clientDownloadsPlugin, { downloads: clientDownloads })
    // With metrics.addr, /metrics is served by server.ts on that address instead.
    if (metrics && !config.metrics.addr) await app.register(metricsPlugin, { metrics })

    // Every service, each given only its own settings.
    const views = new PackViews(packMeta, store, limits.pageSize)
    const archiveLimits = {
      maxArchiveBytes: limits.archiveSize,
      maxUnpackedBytes: limits.unpackedSize,
      maxEntries: limits.entries,
      maxExtractedFileBytes: limits.fileSize,
      maxCompressionRatio: limits.maxCompressionRatio,
    }
    const yamlChecker = new YamlChecker(YAML_CHECK_BUDGET_MS)
    app.addHook('onClose', () => yamlChecker.close())
    const { publishing: packs, pushes, startUp } = packServices(
      store,
      intake,
      packMeta,
      views,
      { archive: archiveLimits, deleteEnabled: config.storage.deleteEnabled, strictValidation: config.packs.strictValidation },
      yamlChecker,
    )
    // Replicas starting together do it once: the others wait, then find nothing left to do.
    const [done, indexed] = await exclusivelyWhenFree(db, 'start-up-work', async () => [await startUp.runPendingWork(new PendingTasks(db)), await startUp.indexForSearch()] as const)
    if (done.parentTagsMoved > 0) {
      app.log.warn(`${done.parentTagsMoved} parent tags moved off pre-releases back to releases (a parent tag never follows a pre-release while its line has a release); each move is in the audit trail`)
    }
    if (indexed.packs > 0) app.log.info(`indexed ${indexed.packs} packs for search (${indexed.readmes} READMEs read, migration 0012)`)
    if (indexed.unreadable > 0) app.log.warn(`${indexed.unreadable} READMEs could not be read from storage for search; run packyard fsck`)
    const registry = new OciRegistry(
      db,
      store,
      {
        namespace: config.oci.namespace,
        checkPackName: validatePackName,
        pageSize: limits.pageSize,
        deleteEnabled: config.storage.deleteEnabled,
        ...(notifications?.recordsPulls ? { onPull: (draft: OutboxDraft) => notifications.pulled(draft) } : {}),
      },
      pushes,
    )
    // sync.registries with a pollinterval: mirrored from when the server is ready until it closes.
    const mirror = config.sync.registries.length > 0 ? new Mirror({ packs: pushes, packMeta, ociMeta, intake, store, sync: syncMeta, manifestSize: limits.manifestSize }) : null
    const polled = config.sync.registries.filter((r) => r.pollIntervalMs > 0)
    if (mirror && polled.length > 0) {
      let stopSync: (() => Promise<void>) | null = null
      app.addHook('onReady', async () => {
        stopSync = startPeriodicSync(mirror, polled, {
          info: (r) =>
            (r.ok ? app.log.info.bind(app.log) : app.log.warn.bind(app.log))(
              { upstream: r.upstream, packsCopied: r.packsCopied, bytesCopied: r.bytesCopied, conflicts: r.conflicts, refused: r.refused, failed: r.failed, error: r.error },
              `sync from ${r.upstream}: copied ${r.packsCopied} packs, ${r.conflicts} in conflict, ${r.refused} refused, ${r.failed} failed${r.error ? ` (${r.error})` : ''}`,
            ),
          error: (err, upstream) => app.log.error({ err, upstream }, `sync from ${upstream} failed`),
        }, { exclusively: (name, run) => db.exclusively(name, run), lastRunAt: (upstream) => syncMeta.lastRunAt(upstream) })
      })
      app.addHook('preClose', async () => {
        await stopSync?.()
      })
    }
    // sync.registries with ondemand (or distribution's proxy.remoteurl): pulls of what is not here fetch it first.
    const onDemandFrom = config.sync.registries.filter((r) => r.onDemand)
    const onDemand = mirror && onDemandFrom.length > 0 ? new OnDemand(mirror, onDemandFrom, packMeta) : null
    const pullThrough = onDemand ? (name: string, ref: string | null) => onDemand.ensure(name, ref) : null
    if (onDemand) app.addHook('preClose', () => onDemand.close())
    const uploads = new OciUploads(db, intake, storage.staging, { maxSessionsPerUser: limits.uploadSessions, replicaId: config.replica.id }, (source, digest) => pushes.watchUpload(source, digest))
    const bodyIdleMs = config.http.bodyIdleTimeoutMs

    const manifestSize = limits.manifestSize
    // storage.redirect.disable: false, on a store that can hand out download URLs (S3).
    const blobRedirect = config.storage.redirect && store.redirectUrl ? store.redirectUrl.bind(store) : null
    // storage.filesystem.accelredirect: nginx in front sends blob files from its internal location.
    const accelRedirect = config.storage.accelRedirect
    await app.register(v1Plugin, { prefix: '/v1', packs, views, registry, uploads, audit, manifestSize, bodyIdleMs, blobRedirect, accelRedirect, notifications, onDemand: pullThrough })
    await app.register(uploadPurgingPlugin, {
      uploads,
      ...config.storage.uploadPurging,
      ...(metrics ? { onPurged: (r: PurgeResult) => metrics.uploadsPurged({ sessions: r.sessions.length, files: r.files.length, bytes: r.bytes }) } : {}),
    })
    await app.register(v2Plugin, { prefix: '/v2', registry, uploads, listParentTags: config.oci.listParentTags, manifestSize, bodyIdleMs, blobRedirect, accelRedirect, onDemand: pullThrough })
    if (config.ui.enabled) {
      const browseMeta = new BrowseMeta(db)
      const ui: UiOptions = {
        packs: new PackBrowser(browseMeta, packMeta, views, { ...UI_PAGES, archive: archiveLimits }),
        oci: new OciBrowser(browseMeta, (name) => registry.locate(name), UI_PAGES),
        overview: new RegistryOverview(browseMeta, db, {
          version: VERSION,
          storage: config.storage.kind,
          ociNamespace: config.oci.namespace,
          latestPushes: 20,
          notifications: () => notifications?.status() ?? [],
          replica: config.replica.id,
          replicas: () => replica.list(),
        }),
        ociNamespace: config.oci.namespace,
        client: clientDownloads,
        authenticated: config.auth !== null,
        base: config.ui.path === '/' ? '' : config.ui.path,
      }
      await app.register(uiPlugin, { ...(ui.base ? { prefix: ui.base } : {}), ...ui })
    }
    await app.ready()
  } catch (err) {
    await app.close()
    throw err
  }
  return app
}

/**
 * The outbox's recorder and a sender per enabled endpoint (started when the app is ready, so
 * what the outbox kept from before a restart is sent first), reporting to the metrics.
 */
async function setUpNotifications(db: Database, config: Config, log: FastifyBaseLogger, metrics: RegistryMetrics | null): Promise<Notifications> {
  const { endpoints, includeReferences, retention } = config.notifications
  const notifications = await Notifications.open(
    db,
    { endpoints, includeReferences, retention, namespace: config.oci.namespace, port: config.http.port },
    log,
    metrics ? (endpoint, seconds) => metrics.notificationDelivered(endpoint, seconds) : undefined,
  )
  metrics?.watchNotifications(() => notifications.status())
  return notifications
}

/** auth.access.writers follows the config file without a restart (config/watch.ts). */
function reloadWriters(app: FastifyInstance, authenticator: Authenticator, file: string, writers: string[]): void {
  const stop = watchWriters(file, writers, process.env, {
    onChange: (now, before) => {
      const added = now.filter((w) => !before.includes(w))
      const removed = before.filter((w) => !now.includes(w))
      authenticator.setWriters(now)
      app.log.info({ config: file, writers: now, added, removed }, `reloaded auth.access.writers from ${file}: now ${now.join(', ') || '(none)'}`)
    },
    onProblem: (message) => app.log.error({ config: file }, message),
  })
  app.addHook('onClose', async () => stop())
}

const HSTS = 'strict-transport-security'

/**
 * http.headers on every response. Strict-Transport-Security only over HTTPS (a TLS listener, or
 * a trusted proxy's X-Forwarded-Proto: https): sent over plain HTTP it pins nothing and only
 * tells scanners the registry is confused about its own scheme.
 */
function installResponseHeaders(app: FastifyInstance, headers: Record<string, string[]>): void {
  const entries = Object.entries(headers).map(([name, values]) => [name, values.length === 1 ? values[0] : values] as const)
  const always = entries.filter(([name]) => name.toLowerCase() !== HSTS)
  const overTls = entries.filter(([name]) => name.toLowerCase() === HSTS)
  app.addHook('onRequest', async (request, reply) => {
    for (const [name, value] of always) reply.header(name, value)
    if (request.protocol === 'https') for (const [name, value] of overTls) reply.header(name, value)
  })
}

/**
 * The authenticator of the htpasswd file (null: `auth: none`, an open registry). Its
 * failures and lockouts go to the metrics; a lockout also to the log and the event log.
 */
async function setUpAuth(
  app: FastifyInstance,
  config: Config,
  passwordFile: string | null,
  audit: AuditTrail,
  metrics: RegistryMetrics | null,
  failures: LoginFailures,
): Promise<Authenticator | null> {
  if (!config.auth) {
    const loopback = /^(127\.|::1$|localhost$)/.test(config.http.host)
    const message = 'AUTHENTICATION IS OFF (auth: none, or REGISTRY_AUTH=none): anyone who can reach this registry may push, tag and delete packs'
    if (loopback) app.log.warn(message)
    else app.log.error(message)
    return null
  }
  const { realm, htpasswdPath, writers } = config.auth
  let inMemoryUsers: Map<string, string> | undefined
  if (htpasswdPath === null) {
    const admin = await inMemoryAdmin()
    inMemoryUsers = admin.users
    app.log.warn(`in-memory storage without auth.htpasswd.path: user "${admin.user}" has password "${admin.password}" until the registry stops (nothing is written to disk)`)
  } else {
    const created = await bootstrapHtpasswd(htpasswdPath, passwordFile)
    if (created) {
      app.log.warn(
        { htpasswd: htpasswdPath, savedTo: created.savedTo },
        `created ${htpasswdPath} with user "${created.user}" and password "${created.password}"` +
          (created.savedTo ? ` (also saved to ${created.savedTo}); this is the only time it is printed` : ''),
      )
    }
  }
  let adminHash: string | undefined | null = null
  const onUsersLoaded = (users: ReadonlyMap<string, string>) => {
    const hash = users.get(BOOTSTRAP_USER)
    if (passwordFile === null || hash === adminHash) return
    adminHash = hash
    retireInitialPassword(passwordFile, hash).then(
      (removed) => {
        if (!removed) return
        const why = hash === undefined ? `user ${BOOTSTRAP_USER} was removed` : `the ${BOOTSTRAP_USER} password was changed`
        app.log.info({ file: passwordFile }, `removed ${passwordFile}: ${why}, so the initial password no longer works`)
      },
      (err: unknown) => app.log.warn({ err, file: passwordFile }, `cannot remove ${passwordFile}; delete it by hand`),
    )
  }
  const authenticator = new Authenticator({
    realm,
    htpasswdPath,
    ...(inMemoryUsers ? { inMemoryUsers } : {}),
    onUsersLoaded,
    writers,
    maxFailures: config.limits.loginFailures,
    maxAddressFailures: config.limits.addressLoginFailures,
    failureWindowMs: config.limits.loginLockoutMs,
    failures,
    onProblem: (message) => app.log.warn(message),
    onFailure: () => metrics?.authFailure(),
    onLockout: (lockout) => {
      const { address, user, failures, forMs } = lockout
      app.log.warn(
        { address, user, failures, lockoutSeconds: forMs / 1000 },
        `login locked for ${user === null ? address : `${address}/${user}`} after ${failures} failures, for ${Math.round(forMs / 60_000)} min (counted in the database: every replica refuses it)`,
      )
      metrics?.lockout(user === null ? 'address' : 'user')
      // The lockout holds whether or not the event log can take it.
      void audit.recordLockout(lockout).catch((err: unknown) => app.log.error({ err }, 'the lockout could not be written to the event log'))
    },
  })
  try {
    await authenticator.load()
  } catch (err) {
    throw new Error(`config: auth.htpasswd.path: cannot read ${htpasswdPath} (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
  return authenticator
}
