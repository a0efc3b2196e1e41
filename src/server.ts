// Runs the registry: load config, build the logger and the app, listen (plus the HTTP-01 and
// redirect listener of http.tls.letsencrypt.httpaddr), start the TLS service (which may wait
// for a first ACME certificate), reload certificates on SIGHUP, and shut down gracefully on
// SIGTERM/SIGINT (stop accepting, let in-flight requests finish within http.draintimeout,
// close the database). Holds the storage root's lock from before the database is opened until
// it is closed, so a second server on the same root refuses to start. The only file that
// listens on a port.

import { createServer, type RequestListener, type Server } from 'node:http'
import pino from 'pino'
import { buildApp } from './app.js'
import { type Config, loadConfig } from './config/load.js'
import { rootLayout } from './store/layout.js'
import { SpaceReserve } from './store/reserve.js'
import { lockRoot, type RootLock } from './store/root-lock.js'
import { VERSION } from './version.js'

export function createLogger(config: Config): pino.Logger {
  return pino({
    level: config.log.level,
    base: { ...config.log.fields },
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.password', 'password'], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  })
}

export async function serve(configPath: string | undefined): Promise<void> {
  const config = loadConfig({ file: configPath })
  const logger = createLogger(config)
  // One server per root, taken before the database is opened; in-memory storage has no root.
  const lock =
    config.storage.kind === 'inmemory'
      ? null
      : await lockRoot(config.storage.rootdirectory, {
          purpose: `serve on ${config.http.addr}`,
          onStale: (holder) => logger.warn({ previous: holder }, `took over the lock of ${config.storage.rootdirectory} from a server that is gone`),
          onStorageFull: () => new SpaceReserve(rootLayout(config.storage.rootdirectory).reservedSpace).release(),
        })
  try {
    await run(config, logger, lock)
  } catch (err) {
    await lock?.release()
    throw err
  }
}

async function run(config: Config, logger: pino.Logger, lock: RootLock | null): Promise<void> {
  const app = await buildApp(config, { logger })
  const bucket = config.storage.s3 ? { bucket: config.storage.s3.bucket, endpoint: config.storage.s3.endpoint ?? 'AWS' } : {}
  logger.info({ config: config.source, storage: config.storage.kind, root: config.storage.rootdirectory, ...bucket, version: VERSION }, 'starting packyard')
  if (config.ignoredKeys.length > 0) logger.warn({ keys: config.ignoredKeys }, 'config keys accepted for compatibility but without effect')

  const tls = app.registry.tls
  let challengeListener: Server | null = null
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
    app.close().then(
      async () => {
        await lock?.release()
        logger.info('stopped')
        process.exit(0)
      },
      async (err: unknown) => {
        logger.error({ err }, 'error while shutting down')
        await lock?.release()
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
  let address: string
  try {
    address = await app.listen({ host: config.http.host, port: config.http.port })
    if (tls?.httpHandler && certificates?.kind === 'letsencrypt' && certificates.httpAddr) {
      challengeListener = await listenPlain(tls.httpHandler, certificates.httpAddr)
      logger.info({ address: certificates.httpAddr.addr }, 'answering ACME HTTP-01 challenges and redirecting to HTTPS (http.tls.letsencrypt.httpaddr)')
    }
    await tls?.start()
  } catch (err) {
    challengeListener?.close()
    await app.close()
    throw err
  }
  if (!closing) logger.info({ address, tls: certificates?.kind ?? false }, 'listening')
}

function listenPlain(handler: RequestListener, at: { addr: string; host: string; port: number }): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(handler)
    const fail = (err: NodeJS.ErrnoException) => reject(new Error(`http.tls.letsencrypt.httpaddr: cannot listen on ${at.addr} (${err.code ?? err.message})`))
    server.once('error', fail)
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', fail)
      resolve(server)
    })
  })
}
