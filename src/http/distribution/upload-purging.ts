// The timer that purges abandoned blob uploads, tied to the app's lifecycle. When
// storage.maintenance.uploadpurging is enabled, every interval it removes upload sessions idle
// for longer than the age, and staged files nobody owns. The timer is unref'd (it never keeps
// the process alive) and stopped on close, after any purge in progress, before the database
// closes. The uploads service is decorated on the root instance as `ociUploads`, so tests and
// operators' code can run a purge by hand.

import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { OciUploads, PurgeResult } from '../../oci/uploads.js'
import { formatBytes } from '../../format.js'

declare module 'fastify' {
  interface FastifyInstance {
    ociUploads: OciUploads
  }
}

export interface UploadPurgingOptions {
  uploads: OciUploads
  enabled: boolean
  ageMs: number
  intervalMs: number
  /** Told of every purge that ran (the metrics count them). */
  onPurged?: (result: PurgeResult) => void
}

export const uploadPurgingPlugin = fp(
  async (app: FastifyInstance, opts: UploadPurgingOptions) => {
    const { uploads, enabled, ageMs, intervalMs, onPurged } = opts
    app.decorate('ociUploads', uploads)
    if (!enabled) return
    let timer: NodeJS.Timeout | undefined
    let running: Promise<void> | null = null
    const purge = () => {
      running ??= uploads
        .purge(ageMs)
        .then(
          (result) => {
            try {
              onPurged?.(result)
            } catch (err) {
              // Counting the purge must never fail it (nor reject the chain the close awaits).
              app.log.error({ err }, 'recording an upload purge failed')
            }
            if (result.sessions.length + result.files.length > 0) {
              app.log.info(
                { ...result, ageMs },
                `purged ${result.sessions.length} abandoned upload sessions and ${result.files.length} stray staged files (${formatBytes(result.bytes)}), idle for more than ${Math.round(ageMs / 60_000)} min`,
              )
            }
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
  { name: 'packyard-upload-purging' },
)
