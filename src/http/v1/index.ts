// The /v1 API surface: the login check `GET /v1/`, then the pack routes. Every route here needs
// credentials; state-changing routes also need a writer.

import type { FastifyInstance } from 'fastify'
import { errorResponses } from '../errors.js'

const rootSchema = {
  response: { 200: { type: 'object', additionalProperties: false }, ...errorResponses },
} as const

export async function v1Plugin(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', app.authenticate)
  app.get('/', { schema: rootSchema }, async () => ({}))
}
