// GET /health: no credentials, 200 {"status":"UP"} while the database and blob storage answer,
// 503 {"status":"DOWN","reason":...} when either fails (what load balancers and the Docker
// HEALTHCHECK poll).

import type { FastifyInstance } from 'fastify'
import { isRegistryError } from '../errors.js'

const healthSchema = {
  operationId: 'getHealth',
  summary: 'Whether the database and the blob storage answer (no credentials)',
  tags: ['operations'],
  security: [],
  response: {
    200: { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] },
    503: { type: 'object', properties: { status: { type: 'string' }, reason: { type: 'string' } }, required: ['status', 'reason'] },
  },
} as const

export interface HealthChecks {
  /** Rejects when the metadata database cannot answer. */
  checkDatabase: () => Promise<void>
  /** Rejects when the blob storage cannot be used. */
  checkStorage: () => Promise<void>
}

export async function healthPlugin(app: FastifyInstance, opts: HealthChecks): Promise<void> {
  app.get('/health', { schema: healthSchema, config: { logAtDebug: true } }, async (request, reply) => {
    try {
      await opts.checkDatabase()
    } catch (err) {
      request.log.error({ err }, 'health: database check failed')
      // The engines' connection errors name the server (never its password): say which is down.
      const detail = isRegistryError(err) ? `: ${err.message}` : ''
      return reply.code(503).send({ status: 'DOWN', reason: `database unavailable${detail}` })
    }
    try {
      await opts.checkStorage()
    } catch (err) {
      request.log.error({ err }, 'health: storage check failed')
      return reply.code(503).send({ status: 'DOWN', reason: 'storage unavailable' })
    }
    return { status: 'UP' }
  })
}
