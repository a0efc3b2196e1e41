// The blob-upload service the /v2 routes share, tied to the app's lifecycle: it is decorated
// on the root instance as `ociUploads` (so operators' code and tests can run a purge), and
// when storage.maintenance.uploadpurging is enabled a timer purges abandoned uploads every
// interval. The timer is unref'd (it never keeps the process alive) and stopped on close,
// after any purge in progress, before the database closes.

import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { OciUploads } from '../../oci/uploads.js'

declare module 'fastify' {
  interface FastifyInstance {
    ociUploads: OciUploads
  }
}

export const ociUploadsPlugin = fp(
  async (app: FastifyInstance, opts: { uploads: OciUploads }) => {
    const { config } = app.registry
    const { uploads } = opts
    app.decorate('ociUploads', uploads)

    const { enabled, ageMs, intervalMs } = config.storage.uploadPurging
    if (!enabled) return
    let timer: NodeJS.Timeout | undefined
    let running: Promise<void> | null = null
    const purge = () => {
      running ??= uploads
        .purge(ageMs)
        .then(
          (result) => {
            if (result.sessions.length + result.files.length > 0) app.log.info({ ...result, ageMs }, 'purged abandoned uploads')
          },
          (err: unknown) => app.log.error({ err }, 'purging abandoned uploads failed'),
        )
        .finally(() => {
          running = null
        })
    }
    app.addHook('onReady', async () => {
      timer = setInterval(purge, intervalMs)
      timer.unref()
    })
    app.addHook('onClose', async () => {
      clearInterval(timer)
      await running
    })
  },
  { name: 'packyard-oci-uploads' },
)
