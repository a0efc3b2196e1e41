// buildApp(config): builds the TLS service from config.http.tls (its HTTPS server is what
// Fastify listens on), opens storage and metadata, then registers the plugins in a fixed order
// (errors, headers, request log, auth, health, /v1, /v2). It never listens; server.ts does,
// and tests use app.inject(). Closing the app closes the database and stops the TLS service.

import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import pino from 'pino'
import { Authenticator } from './auth/authenticator.js'
import { bootstrapHtpasswd } from './auth/bootstrap.js'
import type { Config } from './config/load.js'
import { authPlugin } from './http/auth.js'
import { installErrorHandling } from './http/errors.js'
import { healthPlugin } from './http/health.js'
import { v1Plugin } from './http/v1/index.js'
import { v2Plugin } from './http/v2/index.js'
import { ociUploadsPlugin } from './http/v2/service.js'
import { type Db, openDatabase } from './meta/db.js'
import { PackMeta } from './meta/packs.js'
import { PackBridge } from './packs/oci-bridge.js'
import { PackService } from './packs/service.js'
import { openBlobStore } from './store/index.js'
import type { BlobStore } from './store/types.js'
import { createTlsService, type TlsService } from './tls/index.js'

export interface BuildOptions {
  /** The pino logger server.ts made; tests leave it out and get a silent one. */
  logger?: FastifyBaseLogger
}

declare module 'fastify' {
  interface FastifyInstance {
    registry: { config: Config; db: Db; store: BlobStore; tls: TlsService | null }
  }
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  // Read the certificate files (or the ACME cache) first: a bad one must fail before anything is opened.
  const tls = config.http.tls ? await createTlsService(config.http.tls, options.logger ?? pino({ level: 'silent' })) : null
  const store = await openBlobStore(config)
  const dbFile = config.storage.kind === 'inmemory' ? ':memory:' : join(config.storage.rootdirectory, 'registry.db')
  const db = openDatabase(dbFile)

  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    bodyLimit: config.limits.bodySize,
    return503OnClosing: true,
    // The server comes from the TLS service; `https: true` only makes Fastify name it https://.
    ...(tls ? { https: true, serverFactory: tls.serverFactory } : {}),
  }) as unknown as FastifyInstance
  app.decorate('registry', { config, db, store, tls })
  app.addHook('onClose', async () => {
    tls?.close()
    db.close()
  })

  try {
    installErrorHandling(app)
    installResponseHeaders(app, config.http.headers)
    installRequestLog(app)
    const authenticator = await setUpAuth(app, config)
    await app.register(authPlugin, { authenticator })
    await app.register(healthPlugin, { db, store })
    const packs = new PackService(store, new PackMeta(db), config)
    await app.register(v1Plugin, { prefix: '/v1', packs })
    await app.register(ociUploadsPlugin)
    await app.register(v2Plugin, { prefix: '/v2', packBridge: new PackBridge(packs) })
    await app.ready()
  } catch (err) {
    await app.close()
    throw err
  }
  return app
}

function installResponseHeaders(app: FastifyInstance, headers: Record<string, string[]>): void {
  const entries = Object.entries(headers).map(([name, values]) => [name, values.length === 1 ? values[0] : values] as const)
  app.addHook('onRequest', async (_request, reply) => {
    for (const [name, value] of entries) reply.header(name, value)
  })
}

/** One JSON line per request; the Authorization header is never logged. */
function installRequestLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const length = reply.getHeader('content-length')
    request.log.info(
      {
        user: request.identity?.user,
        method: request.method,
        route: request.routeOptions.url,
        url: request.url,
        status: reply.statusCode,
        bytes: length === undefined ? undefined : Number(length),
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ip: request.ip,
      },
      'request',
    )
  })
}

async function setUpAuth(app: FastifyInstance, config: Config): Promise<Authenticator | null> {
  if (!config.auth) {
    const loopback = /^(127\.|::1$|localhost$)/.test(config.http.host)
    const message = 'AUTHENTICATION IS OFF: there is no auth section in the config, so anyone who can reach this registry may push, tag and delete packs'
    if (loopback) app.log.warn(message)
    else app.log.error(message)
    return null
  }
  const { realm, htpasswdPath, writers } = config.auth
  const created = await bootstrapHtpasswd(htpasswdPath, config.storage.kind === 'filesystem' ? config.storage.rootdirectory : null)
  if (created) {
    app.log.warn(
      { htpasswd: htpasswdPath, savedTo: created.savedTo },
      `created ${htpasswdPath} with user "${created.user}" and password "${created.password}"` +
        (created.savedTo ? ` (also saved to ${created.savedTo}); this is the only time it is printed` : ''),
    )
  }
  const authenticator = new Authenticator({
    realm,
    htpasswdPath,
    writers,
    maxFailures: config.limits.loginFailures,
    onProblem: (message) => app.log.warn(message),
  })
  try {
    await authenticator.load()
  } catch (err) {
    throw new Error(`config: auth.htpasswd.path: cannot read ${htpasswdPath} (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
  return authenticator
}
