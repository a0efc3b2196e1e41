// fsck: checks every stored blob and cross-checks the metadata. Reports blobs whose bytes
// no longer match their name (and who uses them), and blobs the metadata records but the
// store has lost. Read-only: repairing is a matter of re-pushing the packs it names.
// A blob is re-hashed (read in full), unless the storage recorded a SHA-256 it verified itself
// when the bytes were written (S3's x-amz-checksum-sha256): that one is compared with the
// blob's name instead, and the report counts which blobs were checked which way.

import { digestOfStream } from '../store/digest.js'
import type { Database } from '../meta/database.js'
import { MaintenanceMeta } from '../meta/maintenance.js'
import type { BlobStore } from '../store/types.js'

export interface FsckProblem {
  digest: string
  problem: 'corrupt' | 'missing' | 'unreadable'
  detail: string
  usedBy: string[]
}

export interface FsckReport {
  blobsChecked: number
  bytesChecked: number
  /** Blobs read and hashed. */
  rehashed: number
  /** Blobs whose storage-recorded SHA-256 was compared instead. */
  comparedChecksums: number
  problems: FsckProblem[]
}

export async function checkStore(db: Database, store: BlobStore, onProgress?: (digest: string) => void): Promise<FsckReport> {
  const meta = new MaintenanceMeta(db)
  const report: FsckReport = { blobsChecked: 0, bytesChecked: 0, rehashed: 0, comparedChecksums: 0, problems: [] }
  const present = new Set<string>()
  for await (const blob of store.list()) {
    present.add(blob.digest)
    onProgress?.(blob.digest)
    report.blobsChecked++
    report.bytesChecked += blob.size
    try {
      const recorded = store.storedDigest ? await store.storedDigest(blob.digest) : null
      if (recorded !== null) {
        report.comparedChecksums++
        if (recorded !== blob.digest) {
          report.problems.push({ digest: blob.digest, problem: 'corrupt', detail: `the storage's SHA-256 checksum of the content is ${recorded}`, usedBy: await meta.users(blob.digest) })
        }
        continue
      }
      report.rehashed++
      const actual = (await digestOfStream(await store.open(blob.digest))).digest
      if (actual !== blob.digest) {
        report.problems.push({ digest: blob.digest, problem: 'corrupt', detail: `content hashes to ${actual}`, usedBy: await meta.users(blob.digest) })
      }
    } catch (err) {
      report.problems.push({ digest: blob.digest, problem: 'unreadable', detail: (err as NodeJS.ErrnoException).code ?? String(err), usedBy: await meta.users(blob.digest) })
    }
  }
  for (const known of await meta.knownBlobs()) {
    if (!present.has(known.digest)) {
      report.problems.push({ digest: known.digest, problem: 'missing', detail: 'recorded in the metadata but not in the blob store', usedBy: await meta.users(known.digest) })
    }
  }
  return report
}
