// SQL for the operator commands: which blobs the metadata still needs (garbage collection, fsck,
// backup), and who uses a blob. Pack versions list their extracted files as a JSON object in
// pack_versions.files, read with json_each on SQLite and jsonb_each on PostgreSQL (an object: path -> {digest, size}).

import { type Database, type SqlText, type Statement } from './database.js'

/** The digests of the files of every pack version, as `digest`, from `pv` (pack_versions). */
const FILE_DIGESTS = {
  sqlite: "SELECT json_extract(f.value, '$.digest') AS digest FROM pack_versions pv, json_each(pv.files) f",
  postgres: "SELECT f.value ->> 'digest' AS digest FROM pack_versions pv, jsonb_each(pv.files::jsonb) AS f(key, value)",
} as const

/** One statement whose only difference between the engines is how it reads the files' digests. */
function withFileDigests(sql: (fileDigests: string) => string): { sqlite: string; postgres: string } {
  return { sqlite: sql(FILE_DIGESTS.sqlite), postgres: sql(FILE_DIGESTS.postgres) }
}

/** Every blob the metadata has accepted or refers to: what a backup must hold (also read from a raw SQLite snapshot). */
export const EVERY_DIGEST = withFileDigests(
  (files) => `SELECT digest FROM blobs
              UNION SELECT archive_digest FROM pack_versions
              UNION ${files}
              UNION SELECT digest FROM manifest_references WHERE kind = 'blob'`,
) satisfies SqlText

export class MaintenanceMeta {
  private readonly s: {
    packDigests: Statement<{ digest: string }>
    manifestReference: Statement<{ one: number }>
    uploadSession: Statement<{ one: number }>
    knownBlobs: Statement<{ digest: string; size: number }>
    recordedAt: Statement<{ created_at: number }>
    unreferenced: Statement<{ digest: string; size: number; created_at: number; leased: number }>
    everyDigest: Statement<{ digest: string }>
    versionsUsing: Statement<{ name: string; version: string }>
    manifestsUsing: Statement<{ name: string; digest: string }>
  }

  constructor(db: Database) {
    this.s = {
      packDigests: db.prepare(withFileDigests((files) => `SELECT archive_digest AS digest FROM pack_versions UNION ${files}`)),
      manifestReference: db.prepare("SELECT 1 AS one FROM manifest_references WHERE digest = ? AND kind = 'blob' LIMIT 1"),
      uploadSession: db.prepare('SELECT 1 AS one FROM upload_sessions WHERE id = ?'),
      knownBlobs: db.prepare('SELECT digest, size FROM blobs ORDER BY digest'),
      recordedAt: db.prepare('SELECT created_at FROM blobs WHERE digest = ?'),
      // NOT IN reads the files' digests once (a hashed list); its NULLs are left out, or one file
      // entry without a digest would make NOT IN unknown for every blob, and nothing be collected.
      unreferenced: db.prepare(
        withFileDigests(
          (files) => `SELECT b.digest, b.size, b.created_at,
                        CASE WHEN EXISTS (SELECT 1 FROM blob_leases l WHERE l.digest = b.digest AND l.taken_at >= ?) THEN 1 ELSE 0 END AS leased
                      FROM blobs b
                      WHERE NOT EXISTS (SELECT 1 FROM manifest_references mr WHERE mr.digest = b.digest AND mr.kind = 'blob')
                        AND NOT EXISTS (SELECT 1 FROM pack_versions pv WHERE pv.archive_digest = b.digest)
                        AND b.digest NOT IN (SELECT fd.digest FROM (${files}) fd WHERE fd.digest IS NOT NULL)
                      ORDER BY b.digest`,
        ),
      ),
      everyDigest: db.prepare(EVERY_DIGEST),
      versionsUsing: db.prepare({
        sqlite: `SELECT r.name, pv.version FROM pack_versions pv JOIN repositories r ON r.id = pv.repository_id
                 WHERE pv.archive_digest = ? OR EXISTS (SELECT 1 FROM json_each(pv.files) f WHERE json_extract(f.value, '$.digest') = ?)`,
        postgres: `SELECT r.name, pv.version FROM pack_versions pv JOIN repositories r ON r.id = pv.repository_id
                   WHERE pv.archive_digest = ? OR EXISTS (SELECT 1 FROM jsonb_each(pv.files::jsonb) AS f(key, value) WHERE f.value ->> 'digest' = ?)`,
      }),
      manifestsUsing: db.prepare(
        `SELECT r.name, m.digest FROM manifest_references mr JOIN manifests m ON m.id = mr.manifest_id
         JOIN repositories r ON r.id = m.repository_id WHERE mr.digest = ? AND mr.kind = 'blob'`,
      ),
    }
  }

  /** Digests pack versions use directly (archives and their extracted files). */
  async packDigests(): Promise<Set<string>> {
    return new Set((await this.s.packDigests.all()).map((r) => r.digest))
  }

  async referencedByManifest(digest: string): Promise<boolean> {
    return (await this.s.manifestReference.get(digest)) !== undefined
  }

  async hasUploadSession(id: string): Promise<boolean> {
    return (await this.s.uploadSession.get(id)) !== undefined
  }

  /** When the registry last accepted the blob's bytes; null when it has no record of them. */
  async recordedAt(digest: string): Promise<number | null> {
    return (await this.s.recordedAt.get(digest))?.created_at ?? null
  }

  /**
   * The recorded blobs nothing refers to, with when they were last accepted and whether a lease
   * taken at or after `leasedSince` holds them.
   */
  async unreferencedBlobs(leasedSince: number): Promise<Array<{ digest: string; size: number; since: number; leased: boolean }>> {
    return (await this.s.unreferenced.all(leasedSince)).map((r) => ({ digest: r.digest, size: r.size, since: r.created_at, leased: r.leased === 1 }))
  }

  async knownBlobs(): Promise<Array<{ digest: string; size: number }>> {
    return this.s.knownBlobs.all()
  }

  /** Every blob the metadata has accepted or refers to: what a backup must hold. */
  async everyDigest(): Promise<string[]> {
    return (await this.s.everyDigest.all()).map((r) => r.digest)
  }

  async users(digest: string): Promise<string[]> {
    return [
      ...(await this.s.versionsUsing.all(digest, digest)).map((r) => `pack ${r.name} ${r.version}`),
      ...(await this.s.manifestsUsing.all(digest)).map((r) => `manifest ${r.name}@${r.digest}`),
    ]
  }
}
