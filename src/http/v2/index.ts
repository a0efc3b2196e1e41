// The /v2 API surface: the OCI distribution API, where every repository lives (packs under
// oci.namespace). Every request needs credentials; `GET /v2/` is the version check.

import type { FastifyInstance } from 'fastify'
import type { BlobRedirect } from '../blob-response.js'
import type { OciRegistry } from '../../oci/registry.js'
import type { OciUploads } from '../../oci/uploads.js'
import { apiVersionHeader, distributionRoutes } from '../distribution/routes.js'
import { versionSchema } from '../distribution/schemas.js'
import { v2Surface } from '../distribution/surface.js'
import type { PullThrough } from '../../sync/on-demand.js'

export interface V2Options {
  registry: OciRegistry
  uploads: OciUploads
  /** oci.listparenttags */
  listParentTags: boolean
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
}

export async function v2Plugin(app: FastifyInstance, opts: V2Options): Promise<void> {
  apiVersionHeader(app)
  app.addHook('onRequest', app.authenticate)
  app.get('/', { schema: versionSchema }, async () => ({}))
  await app.register(distributionRoutes, {
    registry: opts.registry,
    uploads: opts.uploads,
    surface: v2Surface(opts.registry, opts.listParentTags),
    manifestSize: opts.manifestSize,
    bodyIdleMs: opts.bodyIdleMs,
    blobRedirect: opts.blobRedirect,
    accelRedirect: opts.accelRedirect,
    onDemand: opts.onDemand,
  })
}
