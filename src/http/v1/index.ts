// The /v1 API surface: the login check `GET /v1/`, the pack routes and the event log. Every
// route here needs credentials; state-changing routes (and the event log) also need a writer.
// `GET /v1/` also says who the caller is and whether it may push, so a client can refuse before
// uploading anything.

import type { FastifyInstance } from 'fastify'
import type { AuditTrail } from '../../audit.js'
import type { PackService } from '../../packs/service.js'
import type { PackViews } from '../../packs/views.js'
import { errorResponses } from '../errors.js'
import { v1EventsPlugin } from './events.js'
import { v1PacksPlugin } from './packs.js'

const rootSchema = {
  summary: 'The login check: who the credentials are, and whether they may push',
  tags: ['packs'],
  response: {
    200: {
      type: 'object',
      properties: {
        user: { type: 'string', description: 'the authenticated user ("anonymous" on a registry without auth)' },
        canPush: { type: 'boolean', description: 'whether the user may push, tag and delete' },
      },
      required: ['user', 'canPush'],
      additionalProperties: false,
    },
    ...errorResponses,
  },
} as const

export interface V1Options {
  packs: PackService
  views: PackViews
  audit: AuditTrail
  bodyIdleMs: number
}

export async function v1Plugin(app: FastifyInstance, opts: V1Options): Promise<void> {
  app.addHook('onRequest', app.authenticate)
  app.get('/', { schema: rootSchema }, async (request) => ({ user: request.identity?.user ?? 'anonymous', canPush: request.identity?.writer === true }))
  await app.register(v1PacksPlugin, { packs: opts.packs, views: opts.views, bodyIdleMs: opts.bodyIdleMs })
  await app.register(v1EventsPlugin, { audit: opts.audit })
}
