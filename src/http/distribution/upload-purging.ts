// The timers that purge abandoned blob uploads, tied to the app's lifecycle. When
// storage.maintenance.uploadpurging is enabled, every interval it removes upload sessions idle
// for longer than the age, and staged files nobody owns; and, on a shorter beat, sessions that
// never received a byte once they are older than emptyage (a client that opens sessions and
// walks away holds them minutes, not a day). Every replica runs the timers; a purge runs on one
// replica at a time and skips sessions any replica is working on (OciUploads). The timers are
// unref'd (they never keep the process alive) and stopped on close, after any purge in
// progress, before the database closes. The uploads service is decorated on the root instance
// as `ociUploads`, so tests and operators' code can run a purge by hand.

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
  /** 0: empty sessions wait for ageMs like the others. */
  emptyAgeMs: number
  intervalMs: number
  /** Told of every purge that ran (the metrics count them). */
  onPurged?: (result: PurgeResult) => void
}

export const uploadPurgingPlugin = fp(
  async (app: FastifyInstance, opts: UploadPurgingOptions) => {
    const { uploads, enabled, ageMs, emptyAgeMs, intervalMs, onPurged } = opts
    app.decorate('ociUploads', uploads)
    if (!enabled) return
    const timers: NodeJS.Timeout[] = []
    const running = new Set<Promise<void>>()
    /** Every `ms`, runs `purge` unless its previous run is still going; `said` is its log line. */
    const every = (ms: number, purge: () => Promise<PurgeResult>, said: (result: PurgeResult) => string, failed: string) => {
      let current: Promise<void> | null = null
      const run = () => {
        if (current) return
        current = purge().then(
          (result) => {
            try {
              onPurged?.(result)
            } catch (err) {
              // Counting the purge must never fail it (nor reject the chain the close awaits).
              app.log.error({ err }, 'recording an upload purge failed')
            }
            if (result.sessions.length + result.files.length > 0) app.log.info(result, said(result))
          },
          (err: unknown) => app.log.error({ err }, failed),
        )
        const settled: Promise<void> = current.finally(() => {
          current = null
          running.delete(settled)
        })
        running.add(settled)
      }
      const timer = setInterval(run, ms)
      timer.unref()
      timers.push(timer)
    }
    const minutes = (ms: number) => Math.round(ms / 60_000)
    app.addHook('onReady', async () => {
      every(
        intervalMs,
        () => uploads.purge(ageMs),
        (r) => `purged ${r.sessions.length} abandoned upload sessions and ${r.files.length} stray staged files (${formatBytes(r.bytes)}), idle for more than ${minutes(ageMs)} min`,
        'purging abandoned uploads failed',
      )
      // Looked at twice per emptyage, so an empty session lives between one and one and a half.
      if (emptyAgeMs > 0) {
        every(
          Math.min(intervalMs, emptyAgeMs / 2),
          () => uploads.purgeEmpty(emptyAgeMs),
          (r) => `purged ${r.sessions.length} upload sessions that received nothing in ${minutes(emptyAgeMs)} min (storage.maintenance.uploadpurging.emptyage)`,
          'purging empty upload sessions failed',
        )
      }
    })
    app.addHook('onClose', async () => {
      for (const timer of timers) clearInterval(timer)
      await Promise.all(running)
    })
  },
  { name: 'packyard-upload-purging' },
)
