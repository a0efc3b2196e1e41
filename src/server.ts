// Runs the registry: load config, build the logger and the app, listen, and shut down
// gracefully on SIGTERM/SIGINT (stop accepting, let in-flight requests finish within
// http.draintimeout, close the database). The only file that listens on a port.

import pino from 'pino'
import { buildApp } from './app.js'
import { type Config, loadConfig } from './config/load.js'
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
  const app = await buildApp(config, { logger })
  logger.info({ config: config.source, storage: config.storage.kind, root: config.storage.rootdirectory, version: VERSION }, 'starting packyard')
  if (config.ignoredKeys.length > 0) logger.warn({ keys: config.ignoredKeys }, 'config keys accepted for compatibility but without effect')

  let closing = false
  const shutdown = (signal: string) => {
    if (closing) return
    closing = true
    logger.info({ signal }, 'shutting down: no new connections, waiting for in-flight requests')
    setTimeout(() => {
      logger.error({ drainTimeoutMs: config.http.drainTimeoutMs }, 'in-flight requests did not finish in time; exiting')
      process.exit(1)
    }, config.http.drainTimeoutMs).unref()
    app.close().then(
      () => {
        logger.info('stopped')
        process.exit(0)
      },
      (err: unknown) => {
        logger.error({ err }, 'error while shutting down')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))

  const address = await app.listen({ host: config.http.host, port: config.http.port })
  logger.info({ address, tls: config.http.tls !== null }, 'listening')
}
