// buildApp(config): opens storage and metadata, then registers the plugins in a fixed order
// (errors, headers, request log, Expect: 100-continue, auth, health, /v1, /v2). It never
// listens; server.ts does, and tests use app.inject(). Closing the app closes the database.

import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Authenticator } from './auth/authenticator.js'
import { bootstrapHtpasswd } from './auth/bootstrap.js'
import type { Config } from './config/load.js'
import { authPlugin } from './http/auth.js'
import { installErrorHandling } from './http/errors.js'
import { honourExpectContinue } from './http/expect-continue.js'
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

export interface BuildOptions {
  /** The pino logger server.ts made; tests leave it out and get a silent one. */
  logger?: FastifyBaseLogger
}

declare module 'fastify' {
  interface FastifyInstance {
    registry: { config: Config; db: Db; store: BlobStore }
  }
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  // Read the certificate files first: a bad path must fail before anything is opened.
  const https = config.http.tls ? tlsOptions(config.http.tls) : null
  const store = await openBlobStore(config)
  const dbFile = config.storage.kind === 'inmemory' ? ':memory:' : join(config.storage.rootdirectory, 'registry.db')
  const db = openDatabase(dbFile)

  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    bodyLimit: config.limits.bodySize,
    return503OnClosing: true,
    ...(https ? { https } : {}),
  }) as unknown as FastifyInstance
  app.decorate('registry', { config, db, store })
  app.addHook('onClose', async () => {
    db.close()
  })

  try {
    installErrorHandling(app)
    installResponseHeaders(app, config.http.headers)
    installRequestLog(app)
    honourExpectContinue(app)
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

function tlsOptions(tls: NonNullable<Config['http']['tls']>) {
  const read = (key: string, path: string) => {
    try {
      return readFileSync(path)
    } catch (err) {
      throw new Error(`config: ${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
    }
  }
  const clientCas = tls.clientcas.map((p) => read('http.tls.clientcas', p))
  return {
    cert: read('http.tls.certificate', tls.certificate),
    key: read('http.tls.key', tls.key),
    minVersion: tls.minimumtls === 'tls1.3' ? ('TLSv1.3' as const) : ('TLSv1.2' as const),
    ...(clientCas.length > 0 ? { ca: clientCas, requestCert: true, rejectUnauthorized: true } : {}),
  }
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
