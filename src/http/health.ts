// GET /health: no credentials, 200 {"status":"UP"} while the database and blob storage answer,
// 503 {"status":"DOWN","reason":...} when either fails (what load balancers and the Docker
// HEALTHCHECK poll).

import type { FastifyInstance } from 'fastify'
import type { Db } from '../meta/db.js'
import type { BlobStore } from '../store/types.js'

const healthSchema = {
  response: {
    200: { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] },
    503: { type: 'object', properties: { status: { type: 'string' }, reason: { type: 'string' } }, required: ['status', 'reason'] },
  },
} as const

export async function healthPlugin(app: FastifyInstance, opts: { db: Db; store: BlobStore }): Promise<void> {
  const ping = opts.db.prepare('SELECT 1 AS ok')
  app.get('/health', { schema: healthSchema }, async (request, reply) => {
    try {
      ping.get()
    } catch (err) {
      request.log.error({ err }, 'health: database check failed')
      return reply.code(503).send({ status: 'DOWN', reason: 'database unavailable' })
    }
    try {
      await opts.store.check()
    } catch (err) {
      request.log.error({ err }, 'health: storage check failed')
      return reply.code(503).send({ status: 'DOWN', reason: 'storage unavailable' })
    }
    return { status: 'UP' }
  })
}
