// SQL for the operator commands: which blobs the metadata still needs (garbage collection, fsck,
// backup), and who uses a blob.

import type { Db } from './db.js'

export class MaintenanceMeta {
  private readonly s

  constructor(db: Db) {
    this.s = {
      packDigests: db.prepare<[], { digest: string }>(
        `SELECT archive_digest AS digest FROM pack_versions
         UNION SELECT json_extract(f.value, '$.digest') FROM pack_versions pv, json_each(pv.files) f`,
      ),
      manifestReference: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM manifest_references WHERE digest = ? AND kind = 'blob' LIMIT 1"),
      uploadSession: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM upload_sessions WHERE id = ?'),
      knownBlobs: db.prepare<[], { digest: string; size: number }>('SELECT digest, size FROM blobs ORDER BY digest'),
      recordedAt: db.prepare<[string], { created_at: number }>('SELECT created_at FROM blobs WHERE digest = ?'),
      unreferenced: db.prepare<[number], { digest: string; size: number; created_at: number; leased: number }>(
        `SELECT b.digest, b.size, b.created_at,
           EXISTS (SELECT 1 FROM blob_leases l WHERE l.digest = b.digest AND l.taken_at >= ?) AS leased
         FROM blobs b
         WHERE NOT EXISTS (SELECT 1 FROM manifest_references mr WHERE mr.digest = b.digest AND mr.kind = 'blob')
           AND NOT EXISTS (SELECT 1 FROM pack_versions pv WHERE pv.archive_digest = b.digest)
           AND b.digest NOT IN (SELECT json_extract(f.value, '$.digest') FROM pack_versions pv, json_each(pv.files) f)
         ORDER BY b.digest`,
      ),
      everyDigest: db.prepare<[], { digest: string }>(
        `SELECT digest FROM blobs
         UNION SELECT archive_digest FROM pack_versions
         UNION SELECT json_extract(f.value, '$.digest') FROM pack_versions pv, json_each(pv.files) f
         UNION SELECT digest FROM manifest_references WHERE kind = 'blob'`,
      ),
      versionsUsing: db.prepare<[string, string], { name: string; version: string }>(
        `SELECT r.name, pv.version FROM pack_versions pv JOIN repositories r ON r.id = pv.repository_id
         WHERE pv.archive_digest = ? OR EXISTS (SELECT 1 FROM json_each(pv.files) f WHERE json_extract(f.value, '$.digest') = ?)`,
      ),
      manifestsUsing: db.prepare<[string], { name: string; digest: string }>(
        `SELECT r.name, m.digest FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id
         JOIN repositories r ON r.id = m.repository_id WHERE mr.digest = ? AND mr.kind = 'blob'`,
      ),
    }
  }

  /** Digests pack versions use directly (archives and their extracted files). */
  packDigests(): Set<string> {
    return new Set(this.s.packDigests.all().map((r) => r.digest))
  }

  referencedByManifest(digest: string): boolean {
    return this.s.manifestReference.get(digest) !== undefined
  }

  hasUploadSession(id: string): boolean {
    return this.s.uploadSession.get(id) !== undefined
  }

  /** When the registry last accepted the blob's bytes; null when it has no record of them. */
  recordedAt(digest: string): number | null {
    return this.s.recordedAt.get(digest)?.created_at ?? null
  }

  /**
   * The recorded blobs nothing refers to, with when they were last accepted and whether a lease
   * taken at or after `leasedSince` holds them.
   */
  unreferencedBlobs(leasedSince: number): Array<{ digest: string; size: number; since: number; leased: boolean }> {
    return this.s.unreferenced.all(leasedSince).map((r) => ({ digest: r.digest, size: r.size, since: r.created_at, leased: r.leased === 1 }))
  }

  knownBlobs(): Array<{ digest: string; size: number }> {
    return this.s.knownBlobs.all()
  }

  /** Every blob the metadata has accepted or refers to: what a backup must hold. */
  everyDigest(): string[] {
    return this.s.everyDigest.all().map((r) => r.digest)
  }

  users(digest: string): string[] {
    return [
      ...this.s.versionsUsing.all(digest, digest).map((r) => `pack ${r.name} ${r.version}`),
      ...this.s.manifestsUsing.all(digest).map((r) => `manifest ${r.name}@${r.digest}`),
    ]
  }
}
