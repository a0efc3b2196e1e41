// Runs the registry: load config, build the logger and the app, listen (plus the HTTP-01 and
// redirect listener of http.tls.letsencrypt.httpaddr, and the metrics.addr listener), start the
// TLS service (which may wait for a first ACME certificate), reload certificates on SIGHUP, and
// shut down gracefully on SIGTERM/SIGINT (stop accepting, let in-flight requests finish within
// http.draintimeout, close the database). With SQLite it holds the storage root's lock and the
// database's from before the database is opened until it is closed, so a second server on the
// same root or the same database refuses to start; with the metadata in PostgreSQL it takes
// neither, since replicas share one root by design and coordinate in the database. Once it listens, what start-up allocated is given back
// (startup-memory.ts). The only file that listens on a port.

import type { FastifyInstance } from 'fastify'
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import { buildApp } from './app.js'
import { redactDatabaseUrl } from './config/database.js'
import { type Config, loadConfig } from './config/load.js'
import { metricsListener } from './http/metrics.js'
import { releaseStartupMemory } from './startup-memory.js'
import { rootLayout } from './store/layout.js'
import { SpaceReserve } from './store/reserve.js'
import { type HeldLock, lockDatabase, type LockHolder, lockRoot } from './store/root-lock.js'
import { buildCommit, VERSION } from './version.js'

/**
 * The server's logger: JSON lines with the level as a word, or readable text lines (pino-pretty)
 * with log.formatter text, or auto on a terminal. Text is formatted synchronously, so the last
 * lines before an exit are not lost. Passwords and Authorization headers are redacted either way.
 */
export function createLogger(config: Config, destination: pino.DestinationStream = pino.destination(), terminal = process.stdout.isTTY === true): pino.Logger {
  const text = config.log.formatter === 'text' || (config.log.formatter === 'auto' && terminal)
  const options: pino.LoggerOptions = {
    level: config.log.level,
    base: { ...config.log.fields },
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.password', 'password'], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }
  if (!text) return pino(options, destination)
  // Loaded only for text: a server logging JSON (in a container) need not hold it in memory.
  const { prettyFactory } = require('pino-pretty') as typeof import('pino-pretty')
  // Only `err` holds an Error; a request line's `error` is the code it was answered with.
  const prettify = prettyFactory({ colorize: terminal, singleLine: true, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'pid,hostname', errorLikeObjectKeys: ['err'] })
  return pino(options, { write: (line: string) => destination.write(prettify(line)) })
}

export async function serve(configPath: string | undefined): Promise<void> {
  const config = loadConfig({ file: configPath })
  const logger = createLogger(config)
  const locks = await takeLocks(config, logger)
  const release = () => Promise.all(locks.map((l) => l.release()))
  try {
    await run(config, logger, release)
  } catch (err) {
    await release()
    throw err
  }
}

/**
 * One server per root and per database, both taken before the database is opened: the
 * database's own lock catches two roots sharing one database.path. In-memory storage has neither;
 * with the metadata in PostgreSQL, replicas share the root and the database (every piece of
 * state they share is in PostgreSQL or the blob store, and one-at-a-time work takes advisory
 * locks there), so no lock file is used.
 */
async function takeLocks(config: Config, logger: pino.Logger): Promise<HeldLock[]> {
  if (config.storage.kind === 'inmemory' || config.database.kind === 'postgres') return []
  const { rootdirectory, databasePath } = config.storage
  const options = (what: string) => ({
    purpose: `serve on ${config.http.addr}`,
    onStale: (holder: LockHolder | null) => logger.warn({ previous: holder }, `took over the lock of ${what} from a server that is gone`),
    onStorageFull: () => new SpaceReserve(rootLayout(rootdirectory).reservedSpace).release(),
  })
  const root = await lockRoot(rootdirectory, options(rootdirectory))
  try {
    return [root, await lockDatabase(databasePath, options(databasePath))]
  } catch (err) {
    await root.release()
    throw err
  }
}

async function run(config: Config, logger: pino.Logger, releaseLocks: () => Promise<unknown>): Promise<void> {
  const app = await buildApp(config, { logger })
  const bucket = config.storage.s3 ? { bucket: config.storage.s3.bucket, endpoint: config.storage.s3.endpoint ?? 'AWS' } : {}
  const database = config.database.kind === 'sqlite' ? config.database.path : redactDatabaseUrl(config.database.url)
  logger.info({ config: config.source, storage: config.storage.kind, root: config.storage.rootdirectory, ...bucket, database, replica: config.replica.id, version: VERSION, commit: buildCommit() }, 'starting packyard')
  if (config.ignoredKeys.length > 0) logger.warn({ keys: config.ignoredKeys }, 'config keys accepted for compatibility but without effect')

  const tls = app.registry.tls
  let challengeListener: Server | null = null
  let metricsServer: Server | null = null
  let closing = false
  const shutdown = (signal: string) => {
    if (closing) return
    closing = true
    logger.info({ signal }, 'shutting down: no new connections, waiting for in-flight requests')
    setTimeout(() => {
      logger.error({ drainTimeoutMs: config.http.drainTimeoutMs }, 'in-flight requests did not finish in time; exiting')
      process.exit(1)
    }, config.http.drainTimeoutMs).unref()
    challengeListener?.close()
    metricsServer?.close()
    app.close().then(
      async () => {
        await releaseLocks()
        logger.info('stopped')
        process.exit(0)
      },
      async (err: unknown) => {
        logger.error({ err }, 'error while shutting down')
        await releaseLocks()
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGHUP', () => {
    if (tls) tls.reload().catch((err: unknown) => logger.error({ err }, 'SIGHUP: reloading the certificate failed'))
    else logger.info('SIGHUP: nothing to reload (no http.tls section)')
  })

  const certificates = config.http.tls?.certificates
  try {
    await listenQuietly(app, { host: config.http.host, port: config.http.port }).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'EADDRINUSE' ? new Error(`http.addr: cannot listen on ${config.http.addr}: the address is in use (another server?); choose another address with REGISTRY_HTTP_ADDR (e.g. REGISTRY_HTTP_ADDR=:5001) or http.addr`) : err
    })
    if (tls?.httpHandler && certificates?.kind === 'letsencrypt' && certificates.httpAddr) {
      challengeListener = await listenPlain(tls.httpHandler, certificates.httpAddr, 'http.tls.letsencrypt.httpaddr')
      logger.info({ address: certificates.httpAddr.addr }, 'answering ACME HTTP-01 challenges and redirecting to HTTPS (http.tls.letsencrypt.httpaddr)')
    }
    const { metrics } = app.registry
    if (metrics && config.metrics.addr) {
      const handler = metricsListener(metrics, (err) => logger.error({ err }, 'metrics: collecting for a scrape failed'))
      metricsServer = await listenPlain(handler, config.metrics.addr, 'metrics.addr')
      const metricsUrl = `${urlOf(metricsServer.address() as AddressInfo, false)}/metrics`
      logger.info({ address: metricsUrl }, `serving metrics on ${metricsUrl} (metrics.addr, no credentials)`)
    }
    await tls?.start()
  } catch (err) {
    challengeListener?.close()
    metricsServer?.close()
    await app.close()
    throw err
  }
  const address = urlOf(app.server.address() as AddressInfo, tls !== null)
  const everywhere = /^(0\.0\.0\.0|::)$/.test((app.server.address() as AddressInfo).address)
  // Before saying so: whoever waits for this line finds the pause (a few hundred ms) over.
  releaseStartupMemory()
  if (!closing) logger.info({ address, tls: certificates?.kind ?? false }, `listening on ${address}${everywhere ? ' (all addresses)' : ''}`)
}

/** `http://127.0.0.1:5000`, `https://[::1]:443`. */
function urlOf(address: AddressInfo, https: boolean): string {
  const host = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address
  return `http${https ? 's' : ''}://${host}:${address.port}`
}

/**
 * app.listen, without Fastify's own "Server listening at" lines (one per network interface on
 * 0.0.0.0, naming addresses nobody configured): serve() logs the address it bound, once.
 */
async function listenQuietly(app: FastifyInstance, at: { host: string; port: number }): Promise<void> {
  const level = app.log.level
  app.log.level = 'warn'
  try {
    await app.listen(at)
  } finally {
    app.log.level = level
  }
}

function listenPlain(handler: RequestListener, at: { addr: string; host: string; port: number }, key: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(handler)
    const fail = (err: NodeJS.ErrnoException) => reject(new Error(`${key}: cannot listen on ${at.addr} (${err.code ?? err.message})`))
    server.once('error', fail)
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', fail)
      resolve(server)
    })
  })
}
