// The packyard_sync_* metrics, one series per upstream: read from the sync runs in the event log
// (meta/sync.ts) at each metrics refresh, so the runs of `packyard sync` count as well as the
// server's own.

import { Counter, Gauge, type Registry } from 'prom-client'
import type { SyncUpstreamTotals } from '../meta/sync.js'

export function registerSyncMetrics(registers: Registry[], totals: () => SyncUpstreamTotals[]): void {
  const counter = (name: string, help: string, value: (t: SyncUpstreamTotals) => number) =>
    new Counter({
      name,
      help: `${help}; refreshed every minute`,
      labelNames: ['upstream'],
      registers,
      collect() {
        this.reset()
        for (const t of totals()) this.inc({ upstream: t.upstream }, value(t))
      },
    })
  counter('packyard_sync_runs_total', 'Sync runs against each upstream (packyard sync, and the server\'s periodic mirror), dry runs left out', (t) => t.runs)
  counter('packyard_sync_failed_runs_total', 'Sync runs that could not read the upstream or failed to copy a tag', (t) => t.failedRuns)
  counter('packyard_sync_packs_copied_total', 'Pack versions copied from each upstream', (t) => t.packsCopied)
  counter('packyard_sync_bytes_copied_total', 'Blob bytes downloaded from each upstream', (t) => t.bytesCopied)
  counter('packyard_sync_pack_failures_total', 'Tags of each upstream that failed to copy or were refused by validation', (t) => t.packFailures)
  new Gauge({
    name: 'packyard_sync_last_success_timestamp_seconds',
    help: 'When the last sync run without a failure against each upstream ended (Unix time); refreshed every minute',
    labelNames: ['upstream'],
    registers,
    collect() {
      this.reset()
      for (const t of totals()) if (t.lastSuccessAt !== null) this.set({ upstream: t.upstream }, t.lastSuccessAt / 1000)
    },
  })
}
