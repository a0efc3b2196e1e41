// The server's periodic mirror: each upstream with a pollinterval is synced when the server is
// ready and then that long after its previous run ended, so runs of one upstream never overlap.
// Stopping cancels the timers, ends a run in progress (no further tag or retry is started, and
// its requests to the upstream are aborted; an interrupted run resumes next time) and resolves
// once it has ended.

import type { SyncRegistryConfig } from '../config/sync.js'
import type { Mirror, SyncReport } from './mirror.js'

export interface SyncScheduleLog {
  info(report: SyncReport): void
  error(err: unknown, upstream: string): void
}

export function startPeriodicSync(mirror: Mirror, registries: SyncRegistryConfig[], log: SyncScheduleLog): () => Promise<void> {
  const abort = new AbortController()
  const timers = new Set<NodeJS.Timeout>()
  const running = new Set<Promise<void>>()
  const schedule = (registry: SyncRegistryConfig, delayMs: number) => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      const run = mirror
        .run(registry, { dryRun: false, actor: 'packyard serve', signal: abort.signal })
        .then(
          (report) => log.info(report),
          (err: unknown) => log.error(err, registry.url),
        )
        .finally(() => {
          running.delete(run)
          if (!abort.signal.aborted) schedule(registry, registry.pollIntervalMs)
        })
      running.add(run)
    }, delayMs)
    timer.unref()
    timers.add(timer)
  }
  for (const registry of registries) if (registry.pollIntervalMs > 0) schedule(registry, 0)
  return async () => {
    abort.abort()
    for (const timer of timers) clearTimeout(timer)
    await Promise.all(running)
  }
}
