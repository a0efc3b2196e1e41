// The /v1 API surface: the login check `GET /v1/`, then the pack routes. Every route here needs
// credentials; state-changing routes also need a writer.

import type { FastifyInstance } from 'fastify'
import type { PackService } from '../../packs/service.js'
import type { PackViews } from '../../packs/views.js'
import { errorResponses } from '../errors.js'
import { v1PacksPlugin } from './packs.js'

const rootSchema = {
  response: { 200: { type: 'object', additionalProperties: false }, ...errorResponses },
} as const

export interface V1Options {
  packs: PackService
  views: PackViews
  bodyIdleMs: number
}

export async function v1Plugin(app: FastifyInstance, opts: V1Options): Promise<void> {
  app.addHook('onRequest', app.authenticate)
  app.get('/', { schema: rootSchema }, async () => ({}))
  await app.register(v1PacksPlugin, { packs: opts.packs, views: opts.views, bodyIdleMs: opts.bodyIdleMs })
}
