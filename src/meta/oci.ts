// The metadata behind the OCI distribution API: the one owner of upload sessions, and the
// reads and transactions of plain repositories (manifests, tags, referrers, the catalog, blob
// links, the event log), on either engine. Repositories, manifests, their references and tags
// are written through manifests.ts, their one owner; blob links through blobs.ts. Statements
// are prepared once; every state change is one write transaction holding only database work,
// so callers do their slow work (streaming, hashing, parsing) first and the database moves from
// one consistent state to the next. Nothing here throws typed errors: results say what was
// found, and src/oci/ decides what that means for a client.
//
// Upload sessions carry a claim (claimed_by, claimed_until in ms since the epoch): the replica
// handling a request on the session holds it, renews it while the request streams, and lets it
// go at the end; a claim not renewed expires, so a replica that died frees its sessions by
// itself. Taking a claim is one conditional UPDATE, so two replicas cannot both hold one.
// claimed_by is `<replica id>/<token of the claim>` (oci/uploads.ts).
//
// manifests.artifact_type holds what the referrers API reports: the manifest's artifactType,
// else an image manifest's config mediaType, else NULL.
//
// Listings page by `> @after` on names and digests, which the distribution API wants in byte
// (code point) order: SQLite compares text that way, and the PostgreSQL schema gives those
// columns COLLATE "C" so it does too.

import { BlobMeta } from './blobs.js'
import { type Database, type Statement, writeTransaction } from './database.js'
import { type ManifestRow, ManifestStore, type NewManifest, type ReferenceProblem } from './manifests.js'
import { isRecording, recordNotification } from './outbox.js'
import type { RepositoryKey } from './repository-key.js'
import { type EventAction, EventLog } from './events.js'


export interface BlobRow {
  digest: string
  size: number
}

export interface SessionRow {
  id: string
  repository: string
  /** Bytes recorded by the last request that appended. */
  size: number
  started_at: number
  updated_at: number
}

/** outcome: what happened to the tag (pushed by digest: to the manifest). */
export type PutManifestResult = { ok: true; outcome: 'created' | 'updated' | 'unchanged' } | { ok: false; problems: ReferenceProblem[] }

export interface Page {
  after: string
  limit: number
}

const SQL = {
  manifestByTag: `SELECT m.id, m.digest, m.media_type, m.artifact_type, m.size, m.content, m.subject_digest
    FROM tags t JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = ? AND t.name = ?`,
  tags: `SELECT name FROM tags WHERE repository_id = @repo AND name > @after AND (@parents = 1 OR kind <> 'parent')
    ORDER BY name LIMIT @limit`,
  // Only repositories holding a manifest: blobs uploaded ahead of a manifest (or of a pack
  // that then failed validation) do not make a repository visible. The OCI name is compared in
  // an outer query because PostgreSQL, unlike SQLite, cannot name an output column in WHERE.
  catalog: `SELECT oci FROM (
      SELECT DISTINCT CASE r.kind WHEN 'pack' THEN CAST(@namespace AS TEXT) || '/' || r.name ELSE r.name END AS oci
      FROM repositories r WHERE EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)
    ) named WHERE oci > @after
    ORDER BY oci LIMIT @limit`,
  // The cast gives the filter a type when it is NULL, which PostgreSQL needs to plan the statement.
  referrers: `SELECT id, digest, media_type, artifact_type, size, content, subject_digest FROM manifests
    WHERE repository_id = @repo AND subject_digest = @subject AND (CAST(@artifactType AS TEXT) IS NULL OR artifact_type = @artifactType)
      AND digest > @after
    ORDER BY digest LIMIT @limit`,
  createSession: 'INSERT INTO upload_sessions (id, repository, owner, size, started_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)',
  // Counts no further than the cap, from the owner index: as cheap with a million sessions as with one.
  ownedSessions: 'SELECT COUNT(*) AS n FROM (SELECT 1 FROM upload_sessions WHERE owner = ? LIMIT ?) owned',
  session: 'SELECT id, repository, size, started_at, updated_at FROM upload_sessions WHERE id = ?',
  claimSession: `UPDATE upload_sessions SET claimed_by = @by, claimed_until = @until
    WHERE id = @id AND (CAST(@repository AS TEXT) IS NULL OR repository = @repository) AND claimed_until < @now
    RETURNING id, repository, size, started_at, updated_at`,
  renewClaim: 'UPDATE upload_sessions SET claimed_until = @until WHERE id = @id AND claimed_by = @by',
  releaseClaim: 'UPDATE upload_sessions SET claimed_by = NULL, claimed_until = 0 WHERE id = @id AND claimed_by = @by',
  touchSession: 'UPDATE upload_sessions SET size = @size, updated_at = @now, claimed_by = NULL, claimed_until = 0 WHERE id = @id AND claimed_by = @by',
  recordSize: 'UPDATE upload_sessions SET size = @size, updated_at = @now WHERE id = @id',
  deleteSession: 'DELETE FROM upload_sessions WHERE id = ?',
  staleSessions: 'SELECT id, repository, size, started_at, updated_at FROM upload_sessions WHERE updated_at < ? AND claimed_until < ? ORDER BY updated_at',
  emptySessions: 'SELECT id, repository, size, started_at, updated_at FROM upload_sessions WHERE size = 0 AND updated_at < ? AND claimed_until < ? ORDER BY updated_at',
  openSessions: 'SELECT COUNT(*) AS n FROM upload_sessions',
  forgetSessions: 'DELETE FROM upload_sessions',
} as const

type StatementName = keyof typeof SQL

/** What distribution's events call a blob's media type. */
const BLOB_MEDIA_TYPE = 'application/octet-stream'

export class OciMeta {
  private readonly s: Record<StatementName, Statement>
  private readonly blobs: BlobMeta
  private readonly events: EventLog
  private readonly store: ManifestStore

  constructor(private readonly db: Database) {
    this.blobs = new BlobMeta(db)
    this.events = new EventLog(db)
    this.store = new ManifestStore(db)
    this.s = Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)])) as Record<StatementName, Statement>
  }

  private async get<T>(name: StatementName, ...params: unknown[]): Promise<T | undefined> {
    return (await this.s[name].get(...params)) as T | undefined
  }

  private async all<T>(name: StatementName, ...params: unknown[]): Promise<T[]> {
    return (await this.s[name].all(...params)) as T[]
  }

  private async run(name: StatementName, ...params: unknown[]): Promise<number> {
    return (await this.s[name].run(...params)).changes
  }

  private async event(e: { at: number; actor: string; action: EventAction; repository: string; tag?: string | null; old?: string | null; new?: string | null; message?: string }): Promise<void> {
    await this.events.append({
      at: e.at,
      actor: e.actor,
      action: e.action,
      repository: e.repository,
      tag: e.tag ?? null,
      oldDigest: e.old ?? null,
      newDigest: e.new ?? null,
      forced: false,
      message: e.message ?? null,
    })
  }

  // ---- reads

  async repositoryId(repo: RepositoryKey): Promise<number | null> {
    return (await this.store.repository(repo))?.id ?? null
  }

  /** The blob when it is linked to the repository. */
  async blob(repositoryId: number, digest: string): Promise<BlobRow | null> {
    return await this.blobs.inRepository(repositoryId, digest)
  }

  async manifestByDigest(repositoryId: number, digest: string): Promise<ManifestRow | null> {
    return await this.store.manifestByDigest(repositoryId, digest)
  }

  async manifestByTag(repositoryId: number, tag: string): Promise<ManifestRow | null> {
    return (await this.get<ManifestRow>('manifestByTag', repositoryId, tag)) ?? null
  }

  /** Tag names after `page.after` in byte order; parent tags only when asked for. */
  async tags(repositoryId: number, page: Page, includeParents: boolean): Promise<string[]> {
    const rows = await this.all<{ name: string }>('tags', { repo: repositoryId, after: page.after, limit: page.limit, parents: includeParents ? 1 : 0 })
    return rows.map((r) => r.name)
  }

  /** OCI names of all repositories (packs as `<namespace>/<name>`) after `page.after`, in byte order. */
  async catalog(namespace: string, page: Page): Promise<string[]> {
    const rows = await this.all<{ oci: string }>('catalog', { namespace, after: page.after, limit: page.limit })
    return rows.map((r) => r.oci)
  }

  /** Manifests of the repository whose subject is `subject`, by digest after `page.after`. */
  async referrers(repositoryId: number, subject: string, artifactType: string | null, page: Page): Promise<ManifestRow[]> {
    return await this.all<ManifestRow>('referrers', { repo: repositoryId, subject, artifactType, after: page.after, limit: page.limit })
  }

  async session(id: string): Promise<SessionRow | null> {
    return (await this.get<SessionRow>('session', id)) ?? null
  }

  /** How many upload sessions are open. */
  async openSessions(): Promise<number> {
    return ((await this.get<{ n: number }>('openSessions')) as { n: number }).n
  }

  /** Sessions last touched before `before` (ms since the epoch) that no one holds at `now`. */
  async staleSessions(before: number, now: number): Promise<SessionRow[]> {
    return await this.all<SessionRow>('staleSessions', before, now)
  }

  /** Sessions that have recorded no byte, were last touched before `before` and no one holds at `now`. */
  async emptySessions(before: number, now: number): Promise<SessionRow[]> {
    return await this.all<SessionRow>('emptySessions', before, now)
  }

  // ---- state changes, one transaction each

  // Session bookkeeping is not durable (see writeTransaction): a session lost in a crash costs
  // the client a restart of that one upload, and its staged bytes are purged.

  /**
   * Opens a session for `owner` unless it already holds `maxPerOwner` open ones (false: not
   * created). Counted and inserted in one transaction, so concurrent requests cannot overshoot.
   */
  async createSession(id: string, repository: string, owner: string, now: number, maxPerOwner: number): Promise<boolean> {
    return await writeTransaction(
      this.db,
      async () => {
        const { n } = (await this.get<{ n: number }>('ownedSessions', owner, maxPerOwner)) as { n: number }
        if (n >= maxPerOwner) return false
        await this.run('createSession', id, repository, owner, now, now)
        return true
      },
      { durable: false, serialize: { key: `upload-sessions:${owner}` } },
    )
  }

  /**
   * Claims session `id` for `by` until `until` when no one holds it at `now` (and, with
   * `repository`, it belongs there); returns it, or null when it is held or not there (the
   * caller looks which).
   */
  async claimSession(id: string, repository: string | null, by: string, now: number, until: number): Promise<SessionRow | null> {
    return await writeTransaction(this.db, async () => (await this.get<SessionRow>('claimSession', { id, repository, by, now, until })) ?? null, { durable: false, serialize: 'none' })
  }

  /** Extends `by`'s claim on `id`; false when `by` holds it no longer (it expired and was taken, or the session ended). */
  async renewClaim(id: string, by: string, until: number): Promise<boolean> {
    return await writeTransaction(this.db, async () => (await this.run('renewClaim', { id, by, until })) > 0, { durable: false, serialize: 'none' })
  }

  async releaseClaim(id: string, by: string): Promise<void> {
    await writeTransaction(this.db, () => this.run('releaseClaim', { id, by }), { durable: false, serialize: 'none' })
  }

  /**
   * Records the bytes `by`'s request appended and lets its claim go; false when `by` held it no
   * longer. `by` null: a request that took no claim (one server holds the database), false
   * when the session is gone.
   */
  async touchSession(id: string, size: number, now: number, by: string | null): Promise<boolean> {
    return await writeTransaction(
      this.db,
      async () => (by === null ? await this.run('recordSize', { id, size, now }) : await this.run('touchSession', { id, size, now, by })) > 0,
      { durable: false, serialize: 'none' },
    )
  }

  /** For a backup's copy, inside its transaction: forgets every session (their bytes stay behind in the live registry). */
  async forgetSessions(): Promise<void> {
    await this.run('forgetSessions')
  }

  async deleteSession(id: string): Promise<boolean> {
    return await writeTransaction(this.db, async () => (await this.run('deleteSession', id)) > 0, { durable: false, serialize: 'none' })
  }

  /**
   * Records a stored blob and links it to the repository (created if new); in the same
   * transaction the upload session that produced it ends and the lease that protected it.
   */
  async addBlob(repo: RepositoryKey, blob: BlobRow, now: number, done: { sessionId?: string; leaseId: string }): Promise<void> {
    await writeTransaction(this.db, async () => {
      await this.blobs.recordInRepository(await this.store.ensureRepository(repo, now), blob, now)
      if (done.sessionId !== undefined) await this.run('deleteSession', done.sessionId)
      await this.blobs.releaseLease(done.leaseId)
    }, { durable: true, serialize: 'blobs' })
  }

  /** Links a blob of repository `fromId` into `repo`; null when `fromId` does not have it. */
  async mountBlob(repo: RepositoryKey, digest: string, from: { id: number; key: RepositoryKey }, now: number, actor: string): Promise<BlobRow | null> {
    return await writeTransaction(this.db, async () => {
      const blob = await this.blob(from.id, digest)
      if (!blob) return null
      // Accepted again, as an upload of the same bytes would be: its grace period restarts, so
      // garbage collection leaves it to the manifest about to name it.
      await this.blobs.recordInRepository(await this.store.ensureRepository(repo, now), blob, now)
      await recordNotification(this.db, { action: 'mount', actor, repository: repo, mediaType: BLOB_MEDIA_TYPE, size: blob.size, digest, fromRepository: from.key })
      return blob
    })
  }

  /** Removes a blob from a repository (the bytes stay for garbage collection). */
  async unlinkBlob(repo: RepositoryKey, repositoryId: number, digest: string, log: { actor: string; repository: string; now: number }): Promise<boolean> {
    return await writeTransaction(this.db, async () => {
      const size = (await this.blob(repositoryId, digest))?.size ?? 0
      if (!(await this.blobs.unlink(repositoryId, digest))) return false
      await recordNotification(this.db, { action: 'delete', actor: log.actor, repository: repo, mediaType: BLOB_MEDIA_TYPE, size, digest })
      await this.event({ at: log.now, actor: log.actor, action: 'blob.delete', repository: log.repository, old: digest })
      return true
    })
  }

  /**
   * Stores a manifest (and moves `tag` to it) after checking, in the same transaction, that
   * every blob and child manifest it names is in the repository with the declared size.
   */
  async putManifest(repo: RepositoryKey, m: NewManifest, tag: string | null, log: { actor: string; repository: string; now: number }): Promise<PutManifestResult> {
    return await writeTransaction(this.db, async (): Promise<PutManifestResult> => {
      const problems = await this.store.referenceProblems(await this.repositoryId(repo), m)
      if (problems.length > 0) return { ok: false, problems }

      const { now } = log
      const repoId = await this.store.ensureRepository(repo, now)
      const { id: manifestId, created } = await this.store.insertManifest(repoId, m, now)
      let previousDigest: string | null = null
      if (tag !== null) {
        previousDigest = (await this.store.tag(repoId, tag))?.digest ?? null
        await this.store.upsertTag(repoId, tag, manifestId, now)
      }
      if (created || (tag !== null && previousDigest !== m.digest)) {
        const action: EventAction = tag === null || previousDigest === null ? (created ? 'create' : 'tag') : 'update'
        await this.event({ at: now, actor: log.actor, action, repository: log.repository, tag, old: previousDigest, new: m.digest })
      }
      await recordNotification(this.db, {
        action: 'push',
        actor: log.actor,
        repository: repo,
        mediaType: m.mediaType,
        size: m.content.length,
        digest: m.digest,
        tag,
        references: [...m.blobs, ...m.manifests].map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
      })
      if (tag === null) return { ok: true, outcome: created ? 'created' : 'unchanged' }
      return { ok: true, outcome: previousDigest === null ? 'created' : previousDigest === m.digest ? 'unchanged' : 'updated' }
    })
  }

  /** Deletes a manifest and every tag on it; null when the repository has no such manifest. */
  async deleteManifest(repo: RepositoryKey, repositoryId: number, digest: string, log: { actor: string; repository: string; now: number }): Promise<{ tags: string[] } | null> {
    return await writeTransaction(this.db, async () => {
      const manifest = await this.manifestByDigest(repositoryId, digest)
      if (!manifest) return null
      await recordNotification(this.db, { action: 'delete', actor: log.actor, repository: repo, mediaType: manifest.media_type, size: manifest.size, digest })
      // A plain repository has no parent tags: every tag on the manifest is a user's, and goes.
      const tags = await this.store.deleteAllTagsOf(manifest.id)
      await this.store.deleteManifest(manifest.id)
      // As for a pack version: the first tag, and all of them in the message.
      await this.event({ at: log.now, actor: log.actor, action: 'delete', repository: log.repository, tag: tags[0] ?? null, old: digest, message: tags.join(',') })
      return { tags }
    })
  }

  /** Deletes a tag (the manifest stays); false when there is no such tag. */
  async deleteTag(repo: RepositoryKey, repositoryId: number, tag: string, log: { actor: string; repository: string; now: number }): Promise<boolean> {
    return await writeTransaction(this.db, async () => {
      const found = await this.store.tag(repositoryId, tag)
      if (!found) return false
      if (isRecording(this.db)) {
        const manifest = await this.manifestByDigest(repositoryId, found.digest)
        await recordNotification(this.db, { action: 'delete', actor: log.actor, repository: repo, mediaType: manifest?.media_type ?? '', size: manifest?.size ?? 0, digest: found.digest, tag })
      }
      await this.store.deleteTag(found.id)
      await this.event({ at: log.now, actor: log.actor, action: 'untag', repository: log.repository, tag, old: found.digest })
      return true
    })
  }
}
