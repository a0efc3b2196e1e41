// Garbage collection: removes blobs no manifest or pack version refers to, and staged files
// nobody owns, while the server keeps serving (in the server's process or as the
// `packyard garbage-collect` command in another). Backend-neutral: it sees the store only
// through BlobStore (list, delete) and the staging through UploadStaging (list, cancel).
//
// Why it is safe whatever the grace period:
// - A request leases a blob in the database before it makes it visible or relies on it, and
//   releases the lease in the transaction that records the reference (src/blobs/intake.ts).
// - Each batch is decided in one write transaction: still unreferenced, not leased, older than
//   the grace period. Those blobs are forgotten (rows gone) and marked as being deleted in the
//   same transaction, then their bytes are deleted, then the marks are removed. A writer that
//   leases a marked blob waits for the deletion and then places its own verified copy.
// The grace period only limits how long an upload that no manifest has referenced yet lives.
//
// A run that is not a dry run ends with a `gc` event in the event log (what it removed, who ran
// it), which the audit trail shows and the server's metrics count, whichever process ran it.

import { LEASE_TTL_MS } from '../blobs/intake.js'
import { BlobMeta } from '../meta/blobs.js'
import { type Db, writeTransaction } from '../meta/db.js'
import { EventLog } from '../meta/events.js'
import { MaintenanceMeta } from '../meta/maintenance.js'
import type { BlobStore, StoredBlob } from '../store/types.js'
import type { UploadStaging } from '../store/uploads.js'

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

export interface GcReport {
  blobsRemoved: Array<{ digest: string; size: number }>
  bytesFreed: number
  blobsKept: number
  tempFilesRemoved: string[]
}

export async function collectGarbage(db: Db, store: BlobStore, staging: UploadStaging, options: GcOptions): Promise<GcReport> {
  const meta = new MaintenanceMeta(db)
  const blobs = new BlobMeta(db)
  const now = options.now ?? Date.now()
  const cutoff = now - options.graceMs
  const leaseCutoff = Date.now() - LEASE_TTL_MS
  const report: GcReport = { blobsRemoved: [], bytesFreed: 0, blobsKept: 0, tempFilesRemoved: [] }
  const batchSize = options.batchSize ?? 500
  if (!options.dryRun) writeTransaction(db, () => blobs.dropExpiredLeases(leaseCutoff))

  // A run that fails partway is recorded too, with what it removed until then: the audit trail
  // and the metrics (read from it) must show every deletion.
  let failure: unknown = null
  try {
    const collect = async (candidates: StoredBlob[]) => {
      const condemned = writeTransaction(db, () => {
        const packDigests = meta.packDigests()
        const chosen: StoredBlob[] = []
        for (const blob of candidates) {
          if (packDigests.has(blob.digest) || meta.referencedByManifest(blob.digest) || blobs.isLeased(blob.digest, leaseCutoff)) {
            report.blobsKept++
            continue
          }
          if (!options.dryRun) blobs.startDeletion(blob.digest, Date.now())
          chosen.push(blob)
        }
        return chosen
      })
      for (const blob of condemned) {
        if (!options.dryRun) await store.delete(blob.digest)
        report.blobsRemoved.push({ digest: blob.digest, size: blob.size })
        report.bytesFreed += blob.size
      }
      if (!options.dryRun && condemned.length > 0) writeTransaction(db, () => condemned.forEach((b) => blobs.finishDeletion(b.digest)))
    }

    let batch: StoredBlob[] = []
    let packDigests = meta.packDigests()
    for await (const blob of store.list()) {
      if (blob.modifiedAt >= cutoff || packDigests.has(blob.digest) || meta.referencedByManifest(blob.digest)) {
        report.blobsKept++
        continue
      }
      batch.push(blob)
      if (batch.length >= batchSize) {
        await collect(batch)
        batch = []
        packDigests = meta.packDigests()
      }
    }
    await collect(batch)

    // Staged files no upload session owns (a crash, a cut connection), idle long enough that no
    // request can still be writing them.
    const stagedCutoff = Math.min(cutoff, now - STAGED_FILE_MIN_AGE_MS)
    for await (const entry of staging.list()) {
      if (entry.modifiedAt >= stagedCutoff || meta.hasUploadSession(entry.id)) continue
      if (!options.dryRun) await staging.cancel(entry.id)
      report.tempFilesRemoved.push(entry.id)
    }
  } catch (err) {
    failure = err
    throw err
  } finally {
    if (!options.dryRun) {
      try {
        recordRun(db, report, options, failure)
      } catch (recordFailure) {
        if (failure === null) throw recordFailure
      }
    }
  }
  return report
}

function recordRun(db: Db, report: GcReport, options: GcOptions, failure: unknown): void {
  new EventLog(db).appendRegistryEvent(options.actor, 'gc', {
    blobsRemoved: report.blobsRemoved.length,
    bytesFreed: report.bytesFreed,
    tempFilesRemoved: report.tempFilesRemoved.length,
    blobsKept: report.blobsKept,
    graceSeconds: Math.round(options.graceMs / 1000),
    ...(failure === null ? {} : { failed: failure instanceof Error ? failure.message : String(failure) }),
  })
}
