// What garbage collection makes of a blob nothing refers to, and the words for the totals: one
// rule and one wording for the registry page and `packyard garbage-collect`, so the page's
// figures are the command's. Pure: the callers read the blobs (src/maintenance/gc.ts).

import { formatDuration } from '../config/duration.js'
import { formatBytes } from '../format.js'

/** The command's grace period when none is given, and the one the registry page counts with. */
export const DEFAULT_GRACE_MS = 60 * 60_000

export interface UnreferencedBlob {
  digest: string
  size: number
  /** When the registry last accepted these bytes (the grace period's clock), epoch ms. */
  since: number
  /** Held by a request that is about to reference it (a push in progress). */
  leased: boolean
}

export type Verdict = 'removable' | 'within grace' | 'leased'

/** A leased blob is never removed; any other goes once the grace period after `since` has passed. */
export function judge(blob: Pick<UnreferencedBlob, 'since' | 'leased'>, now: number, graceMs: number): Verdict {
  if (blob.leased) return 'leased'
  return blob.since + graceMs < now ? 'removable' : 'within grace'
}

export interface Amount {
  blobs: number
  bytes: number
}

export interface GarbageSummary {
  graceMs: number
  removable: Amount
  /** `firstRemovableAt`: when the earliest of them has waited out the grace period (null: none). */
  withinGrace: Amount & { firstRemovableAt: number | null }
  leased: Amount
}

export function emptySummary(graceMs: number): GarbageSummary {
  return { graceMs, removable: { blobs: 0, bytes: 0 }, withinGrace: { blobs: 0, bytes: 0, firstRemovableAt: null }, leased: { blobs: 0, bytes: 0 } }
}

/** Counts the blob under its verdict; returns the verdict. */
export function tally(summary: GarbageSummary, blob: UnreferencedBlob, now: number): Verdict {
  const verdict = judge(blob, now, summary.graceMs)
  const amount = verdict === 'removable' ? summary.removable : verdict === 'leased' ? summary.leased : summary.withinGrace
  amount.blobs++
  amount.bytes += blob.size
  if (verdict === 'within grace') {
    const at = blob.since + summary.graceMs
    summary.withinGrace.firstRemovableAt = Math.min(summary.withinGrace.firstRemovableAt ?? at, at)
  }
  return verdict
}

/** `3 blobs (1.5 KiB)` */
export function amountText(amount: Amount): string {
  return `${amount.blobs} ${amount.blobs === 1 ? 'blob' : 'blobs'} (${formatBytes(amount.bytes)})`
}

/** `2026-12-07 08:00:05 UTC` */
export function instantText(at: number): string {
  const iso = new Date(at).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`
}

/**
 * The sentences on what is not removed now, the same on the page and in the command's output:
 * the blobs the grace period still keeps, and those uploads in progress hold (when there are any).
 */
function keptLines(summary: GarbageSummary): string[] {
  const grace = formatDuration(summary.graceMs)
  const { withinGrace, leased } = summary
  const lines = [
    withinGrace.firstRemovableAt === null
      ? `within the ${grace} grace period: no unreferenced blobs`
      : `within the ${grace} grace period: ${amountText(withinGrace)} nothing refers to, the first removable after ${instantText(withinGrace.firstRemovableAt)}`,
  ]
  if (leased.blobs > 0) lines.push(`held by pushes in progress: ${amountText(leased)}`)
  return lines
}

/** The totals in words: `lead` (`removable now`, `would remove`, `removed`) the removable amount, then keptLines. */
export function summaryLines(summary: GarbageSummary, lead: string): string[] {
  return [`${lead}: ${amountText(summary.removable)}`, ...keptLines(summary)]
}
