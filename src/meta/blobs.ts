// The one owner of the blob tables: which blobs the registry has accepted (blobs), which a
// repository may serve (repository_blobs), and what protects blobs while the store and the
// metadata disagree for a moment: leases (a request is about to reference a blob) and deletions
// in progress (garbage collection is removing a blob's bytes). Leases and deletions live in the
// database so that a `packyard garbage-collect` in another process sees the server's leases,
// and the server sees its deletions.

import { type Database, type SqlText, type Statement, writeTransaction } from './database.js'

const SQL = {
  // created_at is when the registry last accepted the bytes: accepting them again restarts the
  // grace period garbage collection gives them, as the stores do with the bytes' own timestamp.
  record: {
    sqlite: 'INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO UPDATE SET created_at = MAX(blobs.created_at, excluded.created_at)',
    postgres: 'INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO UPDATE SET created_at = GREATEST(blobs.created_at, excluded.created_at)',
  },
  link: 'INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
  // The same for many blobs in one statement each (one round trip to PostgreSQL, not two per
  // blob): created_at, then a JSON array of [digest, size] (digests distinct: an upsert may not
  // touch one row twice), or of digests with the repository first.
  recordMany: {
    sqlite: `INSERT INTO blobs (digest, size, created_at) SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ? FROM json_each(?) WHERE true
             ON CONFLICT (digest) DO UPDATE SET created_at = MAX(blobs.created_at, excluded.created_at)`,
    postgres: `INSERT INTO blobs (digest, size, created_at) SELECT e ->> 0, CAST(e ->> 1 AS BIGINT), CAST(? AS BIGINT) FROM jsonb_array_elements(CAST(? AS jsonb)) AS e
               ON CONFLICT (digest) DO UPDATE SET created_at = GREATEST(blobs.created_at, excluded.created_at)`,
  },
  linkMany: {
    sqlite: 'INSERT INTO repository_blobs (repository_id, digest, created_at) SELECT ?, value, ? FROM json_each(?) WHERE true ON CONFLICT DO NOTHING',
    postgres: `INSERT INTO repository_blobs (repository_id, digest, created_at) SELECT CAST(? AS BIGINT), e, CAST(? AS BIGINT)
               FROM jsonb_array_elements_text(CAST(? AS jsonb)) AS e ON CONFLICT DO NOTHING`,
  },
  unlink: 'DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?',
  inRepository: 'SELECT b.digest, b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest WHERE rb.repository_id = ? AND rb.digest = ?',
  // A lease on every digest of a JSON array, and which of them garbage collection is deleting.
  takeLease: {
    sqlite: 'INSERT INTO blob_leases (lease_id, digest, taken_at) SELECT ?, value, ? FROM json_each(?) WHERE true ON CONFLICT DO NOTHING',
    postgres: `INSERT INTO blob_leases (lease_id, digest, taken_at) SELECT CAST(? AS TEXT), e, CAST(? AS BIGINT)
               FROM jsonb_array_elements_text(CAST(? AS jsonb)) AS e ON CONFLICT DO NOTHING`,
  },
  deletions: {
    sqlite: 'SELECT digest, started_at FROM blob_deletions WHERE digest IN (SELECT value FROM json_each(?))',
    postgres: 'SELECT digest, started_at FROM blob_deletions WHERE digest IN (SELECT jsonb_array_elements_text(CAST(? AS jsonb)))',
  },
  releaseLease: 'DELETE FROM blob_leases WHERE lease_id = ?',
  renewLease: 'UPDATE blob_leases SET taken_at = ? WHERE lease_id = ?',
  leasedSince: 'SELECT 1 AS one FROM blob_leases WHERE digest = ? AND taken_at >= ? LIMIT 1',
  dropExpiredLeases: 'DELETE FROM blob_leases WHERE taken_at < ?',
  deletion: 'SELECT started_at FROM blob_deletions WHERE digest = ?',
  startDeletion: 'INSERT INTO blob_deletions (digest, started_at) VALUES (?, ?) ON CONFLICT (digest) DO UPDATE SET started_at = excluded.started_at',
  finishDeletion: 'DELETE FROM blob_deletions WHERE digest = ?',
  unlinkEverywhere: 'DELETE FROM repository_blobs WHERE digest = ?',
  forget: 'DELETE FROM blobs WHERE digest = ?',
  forgetLeases: 'DELETE FROM blob_leases',
  forgetDeletions: 'DELETE FROM blob_deletions',
  totals: 'SELECT COUNT(*) AS count, COALESCE(SUM(size), 0) AS bytes FROM blobs',
} as const satisfies Record<string, SqlText>

export class BlobMeta {
  private readonly s: Record<keyof typeof SQL, Statement>

  constructor(private readonly db: Database) {
    this.s = Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)])) as Record<keyof typeof SQL, Statement>
  }

  /** Records an accepted blob and links it to a repository (inside the caller's transaction). */
  async recordInRepository(repositoryId: number, blob: { digest: string; size: number }, now: number): Promise<void> {
    await this.s.record.run(blob.digest, blob.size, now)
    await this.s.link.run(repositoryId, blob.digest, now)
  }

  /** recordInRepository for many blobs at once (a pack's archive and files). */
  async recordManyInRepository(repositoryId: number, blobs: Array<{ digest: string; size: number }>, now: number): Promise<void> {
    const sizes = new Map(blobs.map((b) => [b.digest, b.size]))
    if (sizes.size === 0) return
    await this.s.recordMany.run(now, JSON.stringify([...sizes]))
    await this.s.linkMany.run(repositoryId, now, JSON.stringify([...sizes.keys()]))
  }

  /** How many blobs the registry has accepted, and their bytes (one scan of the table, for the metrics). */
  async totals(): Promise<{ count: number; bytes: number }> {
    return (await this.s.totals.get()) as { count: number; bytes: number }
  }

  /** Unlinks a blob from a repository; false when it was not linked. */
  async unlink(repositoryId: number, digest: string): Promise<boolean> {
    return (await this.s.unlink.run(repositoryId, digest)).changes > 0
  }

  /** The blob when the repository may serve it. */
  async inRepository(repositoryId: number, digest: string): Promise<{ digest: string; size: number } | null> {
    return ((await this.s.inRepository.get(repositoryId, digest)) as { digest: string; size: number } | undefined) ?? null
  }

  /**
   * Leases `digests` under `leaseId` (committed at once) and returns those garbage collection
   * is deleting right now, with when it started.
   */
  takeLease(leaseId: string, digests: string[], now: number): Promise<Map<string, number>> {
    // Not durable: a lease only matters while the process that took it lives. Ordered against
    // garbage collection's decisions only: leases of other requests may be taken meanwhile.
    return writeTransaction(this.db, async () => {
      const json = JSON.stringify(digests)
      await this.s.takeLease.run(leaseId, now, json)
      const rows = (await this.s.deletions.all(json)) as Array<{ digest: string; started_at: number }>
      return new Map(rows.map((r) => [r.digest, r.started_at]))
    }, { durable: false, serialize: 'blobs' })
  }

  /** Ends a lease, inside the transaction that records the references it protected. */
  async releaseLease(leaseId: string): Promise<void> {
    await this.s.releaseLease.run(leaseId)
  }

  /** Ends a lease on its own (the request failed); not durable, like taking it. */
  async dropLease(leaseId: string): Promise<void> {
    await writeTransaction(this.db, () => this.s.releaseLease.run(leaseId), { durable: false, serialize: 'none' })
  }

  /** Restarts a long-held lease's clock (a backup copying for hours), so it never counts as a crashed request's. */
  async renewLease(leaseId: string, now: number): Promise<void> {
    await writeTransaction(this.db, () => this.s.renewLease.run(now, leaseId), { durable: false, serialize: 'none' })
  }

  /** When garbage collection started deleting `digest`, or null when it is not. */
  async deletionStartedAt(digest: string): Promise<number | null> {
    return ((await this.s.deletion.get(digest)) as { started_at: number } | undefined)?.started_at ?? null
  }

  // ---- for garbage collection, inside its transaction

  /** Whether a lease taken at or after `since` holds the blob. */
  async isLeased(digest: string, since: number): Promise<boolean> {
    return (await this.s.leasedSince.get(digest, since)) !== undefined
  }

  /** Forgets leases a crashed request left behind. */
  async dropExpiredLeases(before: number): Promise<void> {
    await this.s.dropExpiredLeases.run(before)
  }

  /** Forgets the blob everywhere and marks its bytes as being deleted. */
  async startDeletion(digest: string, now: number): Promise<void> {
    await this.s.unlinkEverywhere.run(digest)
    await this.s.forget.run(digest)
    await this.s.startDeletion.run(digest, now)
  }

  async finishDeletion(digest: string): Promise<void> {
    await this.s.finishDeletion.run(digest)
  }

  /**
   * For a backup's copy, inside its transaction: forgets every lease and deletion in progress,
   * which only meant something to the processes of the live registry.
   */
  async forgetLeasesAndDeletions(): Promise<void> {
    await this.s.forgetLeases.run()
    await this.s.forgetDeletions.run()
  }
}
