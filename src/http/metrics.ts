// GET /metrics, the Prometheus text exposition, in one of two places. On the API's own address
// (metrics.addr empty) it is a route of the app and needs credentials like every API route
// (any user: a read-only `prometheus` user in the htpasswd, and Prometheus' basic_auth); the
// numbers say how busy the registry is and how many logins fail, which is not for anyone who
// can reach the port. With metrics.addr it moves to a listener of its own (server.ts starts
// it with metricsListener), without credentials, as distribution's debug listener does: that
// address is meant for a network only Prometheus reaches.

import type { FastifyInstance } from 'fastify'
import type { RequestListener } from 'node:http'
import type { RegistryMetrics } from '../metrics.js'
import { errorResponses } from './errors.js'

const metricsSchema = {
  operationId: 'getMetrics',
  summary: 'Prometheus metrics (text exposition format 0.0.4; any user; on metrics.addr without credentials instead)',
  tags: ['operations'],
  response: {
    200: { description: 'every metric', content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } } },
    ...errorResponses,
  },
} as const

export async function metricsPlugin(app: FastifyInstance, opts: { metrics: RegistryMetrics }): Promise<void> {
  app.get('/metrics', { schema: metricsSchema, onRequest: app.authenticate, config: { logAtDebug: true } }, async (_request, reply) => {
    const text = await opts.metrics.text()
    return reply.type(opts.metrics.contentType).send(text)
  })
}

/** The handler of the metrics.addr listener: GET (or HEAD) /metrics, and 404 for anything else. */
export function metricsListener(metrics: RegistryMetrics, onError: (err: unknown) => void): RequestListener {
  return (request, response) => {
    const path = (request.url ?? '').split('?')[0]
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('only GET /metrics is served here\n')
      return
    }
    metrics.text().then(
      (text) => {
        response.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) })
        response.end(request.method === 'HEAD' ? undefined : text)
      },
      (err: unknown) => {
        onError(err)
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('collecting the metrics failed; see the registry log\n')
      },
    )
  }
}
