// Garbage collection: removes blobs no manifest or pack version refers to, and staged files
// nobody owns, while the server keeps serving (in the server's process or as the
// `packyard garbage-collect` command in another). Backend-neutral: it sees the store only
// through BlobStore (list, delete) and the staging through UploadStaging (list, cancel).
//
// Two passes. The recorded blobs nothing refers to are judged from the metadata alone
// (assessRecorded, which the registry page shows too, so its figures are the command's): their
// clock is when the registry last accepted the bytes. Then the store is listed for bytes the
// metadata has no record of (a push that failed after storing them), judged by the bytes'
// own timestamp, which the page cannot count without listing the store.
//
// Why it is safe whatever the grace period:
// - A request leases a blob in the database before it makes it visible or relies on it, and
//   releases the lease in the transaction that records the reference (src/blobs/intake.ts).
// - Each batch is decided in one write transaction: still unreferenced, not leased, older than
//   the grace period (judge, src/maintenance/garbage.ts). Those blobs are forgotten (rows gone)
//   and marked as being deleted in the same transaction, then their bytes are deleted, then the
//   marks are removed. A writer that leases a marked blob waits for the deletion and then places
//   its own verified copy.
// The grace period only limits how long an upload that no manifest has referenced yet lives.
//
// One run at a time per database, whichever replica or command starts it (Database.exclusively):
// two runs would each be safe, but would race to delete the same bytes and report them twice.
// A dry run deletes nothing and runs beside anything.
//
// A run that is not a dry run ends with a `gc` event in the event log (what it removed, who ran
// it), which the audit trail shows and the server's metrics count, whichever process ran it.

import { LEASE_TTL_MS } from '../blobs/intake.js'
import { BlobMeta } from '../meta/blobs.js'
import { type Database, writeTransaction } from '../meta/database.js'
import { EventLog } from '../meta/events.js'
import { MaintenanceMeta } from '../meta/maintenance.js'
import type { BlobStore } from '../store/types.js'
import type { UploadStaging } from '../store/uploads.js'
import { emptySummary, type GarbageSummary, judge, tally, type UnreferencedBlob } from './garbage.js'

/** A grace period under this is refused unless forced: an upload waits that long for its manifest. */
export const SAFE_GRACE_MS = 60_000
/** Staged files younger than this are never touched: an upload in progress writes to them. */
export const STAGED_FILE_MIN_AGE_MS = 60 * 60_000

export interface GcOptions {
  dryRun: boolean
  graceMs: number
  /** Who runs it, for the event log (the CLI: the operating-system account). */
  actor: string
  now?: number
  batchSize?: number
}

export interface RemovedBlob extends UnreferencedBlob {
  /** false: bytes in the store the metadata had no record of */
  recorded: boolean
}

export interface GcReport {
  /** What was removed (a dry run: what would be), in the order it was found. */
  blobsRemoved: RemovedBlob[]
  bytesFreed: number
  /** Recorded blobs something refers to. */
  blobsKept: number
  /** Every unreferenced blob by verdict, recorded or not; `removable` is what went. */
  garbage: GarbageSummary
  /** The unreferenced blobs (in `garbage`) the metadata had no record of: the page cannot count these. */
  unrecorded: { blobs: number; bytes: number }
  tempFilesRemoved: string[]
}

/**
 * The recorded blobs nothing refers to, judged at `now` with `graceMs`: the registry page's
 * figures and the first pass of a collection.
 */
export async function assessRecorded(db: Database, now: number, graceMs: number): Promise<{ summary: GarbageSummary; removable: UnreferencedBlob[] }> {
  const summary = emptySummary(graceMs)
  const removable: UnreferencedBlob[] = []
  for (const blob of await new MaintenanceMeta(db).unreferencedBlobs(Date.now() - LEASE_TTL_MS)) {
    if (tally(summary, blob, now) === 'removable') removable.push(blob)
  }
  return { summary, removable }
}

/** The name under which runs take turns (Database.exclusively). */
const GC_WORK = 'garbage-collection'

export async function collectGarbage(db: Database, store: BlobStore, staging: UploadStaging, options: GcOptions): Promise<GcReport> {
  if (options.dryRun) return collect(db, store, staging, options)
  const outcome = await db.exclusively(GC_WORK, () => collect(db, store, staging, options))
  if (!outcome.ran) {
    throw new Error(`another garbage collection is running on this registry's database (${db.location}), started by another command or replica; run again once it has finished`)
  }
  return outcome.value
}

async function collect(db: Database, store: BlobStore, staging: UploadStaging, options: GcOptions): Promise<GcReport> {
  const meta = new MaintenanceMeta(db)
  const blobs = new BlobMeta(db)
  const now = options.now ?? Date.now()
  const leaseCutoff = Date.now() - LEASE_TTL_MS
  const batchSize = options.batchSize ?? 500
  if (!options.dryRun) await writeTransaction(db, () => blobs.dropExpiredLeases(leaseCutoff))
  const { summary, removable } = await assessRecorded(db, now, options.graceMs)
  // What goes is counted as it goes: a blob referenced, leased or accepted again since the
  // assessment stays, and is not counted as removable.
  const report: GcReport = {
    blobsRemoved: [],
    bytesFreed: 0,
    blobsKept: (await blobs.totals()).count - summary.removable.blobs - summary.withinGrace.blobs - summary.leased.blobs,
    garbage: { ...summary, removable: { blobs: 0, bytes: 0 } },
    unrecorded: { blobs: 0, bytes: 0 },
    tempFilesRemoved: [],
  }

  // A run that fails partway is recorded too, with what it removed until then: the audit trail
  // and the metrics (read from it) must show every deletion.
  let failure: unknown = null
  try {
    // Decides a batch in one write transaction (the blob is still what the candidate says it
    // is), marks it as being deleted, deletes the bytes, then removes the marks.
    const collect = async (candidates: RemovedBlob[]) => {
      const condemned = await writeTransaction(db, async () => {
        const packDigests = await meta.packDigests()
        const chosen: RemovedBlob[] = []
        for (const blob of candidates) {
          const recordedAt = await meta.recordedAt(blob.digest)
          const unchanged = blob.recorded ? recordedAt !== null && judge({ since: recordedAt, leased: false }, now, options.graceMs) === 'removable' : recordedAt === null
          if (!unchanged || packDigests.has(blob.digest) || (await meta.referencedByManifest(blob.digest)) || (await blobs.isLeased(blob.digest, leaseCutoff))) continue
          if (!options.dryRun) await blobs.startDeletion(blob.digest, Date.now())
          chosen.push(blob)
        }
        return chosen
      }, { durable: true, serialize: 'collection' })
      for (const blob of condemned) {
        if (!options.dryRun) await store.delete(blob.digest)
        report.blobsRemoved.push(blob)
        report.bytesFreed += blob.size
        report.garbage.removable.blobs++
        report.garbage.removable.bytes += blob.size
        if (!blob.recorded) {
          report.unrecorded.blobs++
          report.unrecorded.bytes += blob.size
        }
      }
      if (!options.dryRun && condemned.length > 0) {
        await writeTransaction(db, async () => {
          for (const b of condemned) await blobs.finishDeletion(b.digest)
        })
      }
    }

    for (let i = 0; i < removable.length; i += batchSize) await collect(removable.slice(i, i + batchSize).map((b) => ({ ...b, recorded: true })))

    // Bytes the metadata has no record of. The first pass's blobs are skipped by digest: a
    // store's listing may still show what was just deleted.
    const judged = new Set(removable.map((b) => b.digest))
    let batch: RemovedBlob[] = []
    let packDigests = await meta.packDigests()
    for await (const stored of store.list()) {
      if (judged.has(stored.digest) || (await meta.recordedAt(stored.digest)) !== null) continue
      if (packDigests.has(stored.digest) || (await meta.referencedByManifest(stored.digest))) {
        report.blobsKept++
        continue
      }
      const blob = { digest: stored.digest, size: stored.size, since: stored.modifiedAt, leased: await blobs.isLeased(stored.digest, leaseCutoff), recorded: false }
      if (judge(blob, now, options.graceMs) !== 'removable') {
        tally(report.garbage, blob, now)
        report.unrecorded.blobs++
        report.unrecorded.bytes += blob.size
        continue
      }
      batch.push(blob)
      if (batch.length >= batchSize) {
        await collect(batch)
        batch = []
        packDigests = await meta.packDigests()
      }
    }
    await collect(batch)

    // Staged files no upload session owns (a crash, a cut connection), idle long enough that no
    // request can still be writing them.
    const stagedCutoff = Math.min(now - options.graceMs, now - STAGED_FILE_MIN_AGE_MS)
    for await (const entry of staging.list()) {
      if (entry.modifiedAt >= stagedCutoff || (await meta.hasUploadSession(entry.id))) continue
      if (!options.dryRun) await staging.cancel(entry.id)
      report.tempFilesRemoved.push(entry.id)
    }
  } catch (err) {
    failure = err
    throw err
  } finally {
    if (!options.dryRun) {
      try {
        await recordRun(db, report, options, failure)
      } catch (recordFailure) {
        if (failure === null) throw recordFailure
      }
    }
  }
  return report
}

async function recordRun(db: Database, report: GcReport, options: GcOptions, failure: unknown): Promise<void> {
  await new EventLog(db).appendRegistryEvent(options.actor, 'gc', {
    blobsRemoved: report.blobsRemoved.length,
    bytesFreed: report.bytesFreed,
    tempFilesRemoved: report.tempFilesRemoved.length,
    blobsKept: report.blobsKept,
    blobsWithinGrace: report.garbage.withinGrace.blobs,
    graceSeconds: Math.round(options.graceMs / 1000),
    ...(failure === null ? {} : { failed: failure instanceof Error ? failure.message : String(failure) }),
  })
}
