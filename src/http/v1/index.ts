// The /v1 API surface: the login check `GET /v1/`, then the pack routes. Every route here needs
// credentials; state-changing routes also need a writer.

import type { FastifyInstance } from 'fastify'
import type { PackService } from '../../packs/service.js'
import { errorResponses } from '../errors.js'
import { v1PacksPlugin } from './packs.js'

const rootSchema = {
  response: { 200: { type: 'object', additionalProperties: false }, ...errorResponses },
} as const

export async function v1Plugin(app: FastifyInstance, opts: { packs: PackService }): Promise<void> {
  app.addHook('onRequest', app.authenticate)
  app.get('/', { schema: rootSchema }, async () => ({}))
  await app.register(v1PacksPlugin, { packs: opts.packs })
}
