// Garbage collection: removes blobs no manifest or pack version refers to, and stray temp
// files, while the server keeps serving. Safe because (1) only blobs older than the grace
// period are candidates, and the store refreshes a blob's mtime whenever a write reuses it;
// (2) each batch re-checks references and deletes rows and files inside one SQLite write
// transaction, which the server's commits wait for. Blobs are never removed by a request path.

import { statSync, unlinkSync } from 'node:fs'
import { readdir, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { MaintenanceMeta } from '../meta/maintenance.js'
import type { Db } from '../meta/db.js'
import { type FilesystemBlobStore, PUT_TEMP_PREFIX } from '../store/fs.js'

export interface GcOptions {
  dryRun: boolean
  graceMs: number
  now?: number
  batchSize?: number
}

export interface GcReport {
  blobsRemoved: Array<{ digest: string; size: number }>
  bytesFreed: number
  blobsKept: number
  tempFilesRemoved: string[]
}

export async function collectGarbage(db: Db, store: FilesystemBlobStore, options: GcOptions): Promise<GcReport> {
  const meta = new MaintenanceMeta(db)
  const cutoff = (options.now ?? Date.now()) - options.graceMs
  const report: GcReport = { blobsRemoved: [], bytesFreed: 0, blobsKept: 0, tempFilesRemoved: [] }
  const batchSize = options.batchSize ?? 500

  let batch: Array<{ digest: string; size: number }> = []
  const flush = () => {
    if (batch.length === 0) return
    const candidates = batch
    batch = []
    meta.exclusive(() => {
      const packDigests = meta.packDigests()
      for (const blob of candidates) {
        const path = store.pathOf(blob.digest)
        const mtime = statSync(path, { throwIfNoEntry: false })?.mtimeMs
        const stillGarbage = mtime !== undefined && mtime < cutoff && !packDigests.has(blob.digest) && !meta.referencedByManifest(blob.digest)
        if (!stillGarbage) {
          report.blobsKept++
          continue
        }
        if (!options.dryRun) {
          meta.forgetBlob(blob.digest)
          unlinkSync(path)
        }
        report.blobsRemoved.push(blob)
        report.bytesFreed += blob.size
      }
    })
  }

  const packDigests = meta.packDigests()
  for await (const blob of store.list()) {
    if (packDigests.has(blob.digest) || meta.referencedByManifest(blob.digest)) {
      report.blobsKept++
      continue
    }
    batch.push(blob)
    if (batch.length >= batchSize) flush()
  }
  flush()

  // Temp files of blob writes that never finished (a crash, a cut connection).
  for (const name of await readdir(store.uploadsDir)) {
    if (!name.startsWith(PUT_TEMP_PREFIX)) continue
    const path = join(store.uploadsDir, name)
    const st = await stat(path).catch(() => null)
    if (!st || st.mtimeMs >= cutoff) continue
    if (!options.dryRun) await unlink(path).catch(() => undefined)
    report.tempFilesRemoved.push(name)
  }
  return report
}
