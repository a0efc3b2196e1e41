// The /v1 API surface: the login check `GET /v1/`, the pack routes (`/v1/_packs...`), the event
// log (`/v1/_events`), the notification endpoints' state (`/v1/_notifications`), and the distribution API as spectro-registry serves it
// (`/v1/<pack>/manifests/...`, blobs, uploads, tags/list, referrers, `/v1/_catalog`), the same
// handlers as /v2. Every route here needs credentials; state-changing routes (and the event log)
// also need a writer. `GET /v1/` also says who the caller is and whether it may push, so a
// client can refuse before uploading anything.

import type { FastifyInstance } from 'fastify'
import type { BlobRedirect } from '../blob-response.js'
import type { AuditTrail } from '../../audit.js'
import type { OciRegistry } from '../../oci/registry.js'
import type { OciUploads } from '../../oci/uploads.js'
import type { PackPublishing } from '../../packs/publishing.js'
import type { PackViews } from '../../packs/views.js'
import { apiVersionHeader, distributionRoutes } from '../distribution/routes.js'
import { v1Surface } from '../distribution/surface.js'
import { errorResponses } from '../errors.js'
import { v1EventsPlugin } from './events.js'
import { v1NotificationsPlugin } from './notifications.js'
import type { Notifications } from '../../notifications/sender.js'
import { v1PacksPlugin } from './packs.js'
import type { PullThrough } from '../../sync/on-demand.js'

const rootSchema = {
  operationId: 'checkLogin',
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
  packs: PackPublishing
  views: PackViews
  audit: AuditTrail
  registry: OciRegistry
  uploads: OciUploads
  /** limits.manifestsize */
  manifestSize: number
  /** http.bodyidletimeout */
  bodyIdleMs: number
  /** A pre-signed download URL for a blob, when blob GETs redirect to the storage (S3); else null. */
  blobRedirect: BlobRedirect | null
  /** storage.filesystem.accelredirect: nginx's internal location over the blob files, which sends blob GETs' bytes; else null. */
  accelRedirect: string | null
  /** Pull-through: fetches a pack (a tag of it) that is not here from an on-demand upstream before a pull reads it; null without one. */
  onDemand: PullThrough | null
  /** The notification senders; null without endpoints. */
  notifications: Notifications | null
}

export async function v1Plugin(app: FastifyInstance, opts: V1Options): Promise<void> {
  apiVersionHeader(app)
  app.addHook('onRequest', app.authenticate)
  app.get('/', { schema: rootSchema }, async (request) => ({ user: request.identity?.user ?? 'anonymous', canPush: request.identity?.writer === true }))
  await app.register(v1PacksPlugin, { packs: opts.packs, views: opts.views, bodyIdleMs: opts.bodyIdleMs, onDemand: opts.onDemand, accelRedirect: opts.accelRedirect })
  await app.register(v1EventsPlugin, { audit: opts.audit })
  await app.register(v1NotificationsPlugin, { notifications: opts.notifications })
  await app.register(distributionRoutes, {
    registry: opts.registry,
    uploads: opts.uploads,
    surface: v1Surface(opts.registry, (request) => opts.views.catalog(request)),
    manifestSize: opts.manifestSize,
    bodyIdleMs: opts.bodyIdleMs,
    blobRedirect: opts.blobRedirect,
    accelRedirect: opts.accelRedirect,
    onDemand: opts.onDemand,
  })
}
