// The server's periodic mirror: each upstream with a pollinterval is synced when the server is
// ready and then that long after its previous run ended, so runs of one upstream never overlap.
// Replicas on one database take turns (SyncTurns): a run starts only while no other replica
// syncs that upstream, and not when another finished a run of it within the poll interval, so
// N replicas poll an upstream about as often as one does.
// Stopping cancels the timers, ends a run in progress (no further tag or retry is started, and
// its requests to the upstream are aborted; an interrupted run resumes next time) and resolves
// once it has ended.

import type { SyncRegistryConfig } from '../config/sync.js'
import type { ExclusiveOutcome } from '../meta/database.js'
import { type Mirror, type SyncReport, upstreamName } from './mirror.js'

export interface SyncTurns {
  /** Runs `fn` unless work of this name runs on another replica now (Database.exclusively). */
  exclusively<T>(name: string, fn: () => Promise<T>): Promise<ExclusiveOutcome<T>>
  /** When the last run of `upstream` (as upstreamName names it) ended, on any replica. */
  lastRunAt(upstream: string): Promise<number | null>
}

export interface SyncScheduleLog {
  info(report: SyncReport): void
  error(err: unknown, upstream: string): void
}

export function startPeriodicSync(mirror: Mirror, registries: SyncRegistryConfig[], log: SyncScheduleLog, turns: SyncTurns): () => Promise<void> {
  const abort = new AbortController()
  const timers = new Set<NodeJS.Timeout>()
  const running = new Set<Promise<void>>()
  const schedule = (registry: SyncRegistryConfig, delayMs: number) => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      const upstream = upstreamName(registry)
      const run = turns
        .exclusively(`sync:${upstream}`, async () => {
          const last = await turns.lastRunAt(upstream)
          if (last !== null && Date.now() - last < registry.pollIntervalMs) return null
          return mirror.run(registry, { dryRun: false, actor: 'packyard serve', signal: abort.signal })
        })
        .then(
          (outcome) => {
            if (outcome.ran && outcome.value) log.info(outcome.value)
          },
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
