// The SQL behind the OCI distribution API: repositories, blob links, manifests and their
// references, tags, referrers, the catalog, upload sessions and the event log. Statements are
// prepared once; every state change is one synchronous transaction, so callers do their async
// work (streaming, hashing, parsing) first and the database moves from one consistent state
// to the next. Nothing here throws typed errors: results say what was found, and src/oci/
// decides what that means for a client.
//
// manifests.artifact_type holds what the referrers API reports: the manifest's artifactType,
// else an image manifest's config mediaType, else NULL.

import type { Statement } from 'better-sqlite3'
import { BlobMeta } from './blobs.js'
import { type Db, writeTransaction } from './db.js'
import { isRecording, recordNotification } from './outbox.js'
import type { RepositoryKey } from './repository-key.js'
import { type EventAction, EventLog } from './events.js'
import { TagSequence } from './sequence.js'


export interface BlobRow {
  digest: string
  size: number
}

export interface ManifestRow {
  id: number
  digest: string
  media_type: string
  artifact_type: string | null
  size: number
  content: Buffer
  subject_digest: string | null
}

export interface SessionRow {
  id: string
  repository: string
  started_at: number
  updated_at: number
}

export interface ManifestRecord {
  digest: string
  mediaType: string
  artifactType: string | null
  content: Buffer
  subjectDigest: string | null
  blobs: Array<{ mediaType: string; digest: string; size: number }>
  manifests: Array<{ mediaType: string; digest: string; size: number }>
}

/** A reference of a manifest that the repository cannot satisfy. */
export interface ReferenceProblem {
  kind: 'blob' | 'manifest'
  digest: string
  declaredSize: number
  /** null: not in the repository; else the size it has there. */
  actualSize: number | null
}

/** outcome: what happened to the tag (pushed by digest: to the manifest). */
export type PutManifestResult = { ok: true; outcome: 'created' | 'updated' | 'unchanged' } | { ok: false; problems: ReferenceProblem[] }

export interface Page {
  after: string
  limit: number
}

const SQL = {
  repository: 'SELECT id FROM repositories WHERE kind = ? AND name = ?',
  ensureRepository: `INSERT INTO repositories (kind, name, created_at, updated_at) VALUES (@kind, @name, @now, @now)
    ON CONFLICT (kind, name) DO UPDATE SET updated_at = excluded.updated_at RETURNING id`,
  manifestByDigest: `SELECT id, digest, media_type, artifact_type, size, content, subject_digest FROM manifests
    WHERE repository_id = ? AND digest = ?`,
  manifestByTag: `SELECT m.id, m.digest, m.media_type, m.artifact_type, m.size, m.content, m.subject_digest
    FROM tags t JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = ? AND t.name = ?`,
  insertManifest: `INSERT INTO manifests (repository_id, digest, media_type, artifact_type, size, content, subject_digest, created_at)
    VALUES (@repo, @digest, @mediaType, @artifactType, @size, @content, @subject, @now)
    ON CONFLICT (repository_id, digest) DO NOTHING`,
  insertReference: 'INSERT INTO manifest_references (manifest_id, digest, kind) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
  deleteManifest: 'DELETE FROM manifests WHERE id = ?',
  tagsOfManifest: 'SELECT name FROM tags WHERE manifest_id = ? ORDER BY name',
  deleteTagsOfManifest: 'DELETE FROM tags WHERE manifest_id = ?',
  tag: 'SELECT t.id, m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = ? AND t.name = ?',
  upsertTag: `INSERT INTO tags (repository_id, name, group_name, label, kind, manifest_id, seq, updated_at)
    VALUES (@repo, @name, NULL, @name, 'alias', @manifest, @seq, @now)
    ON CONFLICT (repository_id, name) DO UPDATE
    SET manifest_id = excluded.manifest_id, seq = excluded.seq, updated_at = excluded.updated_at`,
  deleteTag: 'DELETE FROM tags WHERE id = ?',
  tags: `SELECT name FROM tags WHERE repository_id = @repo AND name > @after AND (@parents = 1 OR kind <> 'parent')
    ORDER BY name LIMIT @limit`,
  // Only repositories holding a manifest: blobs uploaded ahead of a manifest (or of a pack
  // that then failed validation) do not make a repository visible.
  catalog: `SELECT DISTINCT CASE kind WHEN 'pack' THEN @namespace || '/' || name ELSE name END AS oci
    FROM repositories r WHERE oci > @after AND EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)
    ORDER BY oci LIMIT @limit`,
  referrers: `SELECT id, digest, media_type, artifact_type, size, content, subject_digest FROM manifests
    WHERE repository_id = @repo AND subject_digest = @subject AND (@artifactType IS NULL OR artifact_type = @artifactType)
      AND digest > @after
    ORDER BY digest LIMIT @limit`,
  createSession: 'INSERT INTO upload_sessions (id, repository, owner, size, started_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)',
  // Counts no further than the cap, from the owner index: as cheap with a million sessions as with one.
  ownedSessions: 'SELECT COUNT(*) AS n FROM (SELECT 1 FROM upload_sessions WHERE owner = ? LIMIT ?)',
  session: 'SELECT id, repository, started_at, updated_at FROM upload_sessions WHERE id = ?',
  touchSession: 'UPDATE upload_sessions SET size = ?, updated_at = ? WHERE id = ?',
  deleteSession: 'DELETE FROM upload_sessions WHERE id = ?',
  staleSessions: 'SELECT id, repository, started_at, updated_at FROM upload_sessions WHERE updated_at < ? ORDER BY updated_at',
  emptySessions: 'SELECT id, repository, started_at, updated_at FROM upload_sessions WHERE size = 0 AND updated_at < ? ORDER BY updated_at',
  openSessions: 'SELECT COUNT(*) AS n FROM upload_sessions',
} as const

type StatementName = keyof typeof SQL

const NOT_DURABLE = { durable: false }

/** What distribution's events call a blob's media type. */
const BLOB_MEDIA_TYPE = 'application/octet-stream'

export class OciMeta {
  private readonly s: Record<StatementName, Statement>
  private readonly blobs: BlobMeta
  private readonly events: EventLog
  private readonly seq: TagSequence

  constructor(private readonly db: Db) {
    this.blobs = new BlobMeta(db)
    this.events = new EventLog(db)
    this.seq = new TagSequence(db)
    this.s = Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)])) as Record<StatementName, Statement>
  }

  private get<T>(name: StatementName, ...params: unknown[]): T | undefined {
    return this.s[name].get(...params) as T | undefined
  }

  private all<T>(name: StatementName, ...params: unknown[]): T[] {
    return this.s[name].all(...params) as T[]
  }

  private run(name: StatementName, ...params: unknown[]): number {
    return this.s[name].run(...params).changes
  }

  private ensureRepository(repo: RepositoryKey, now: number): number {
    return this.get<{ id: number }>('ensureRepository', { kind: repo.kind, name: repo.name, now })?.id as number
  }

  private event(e: { at: number; actor: string; action: EventAction; repository: string; tag?: string | null; old?: string | null; new?: string | null; message?: string }): void {
    this.events.append({
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

  repositoryId(repo: RepositoryKey): number | null {
    return this.get<{ id: number }>('repository', repo.kind, repo.name)?.id ?? null
  }

  /** The blob when it is linked to the repository. */
  blob(repositoryId: number, digest: string): BlobRow | null {
    return this.blobs.inRepository(repositoryId, digest)
  }

  manifestByDigest(repositoryId: number, digest: string): ManifestRow | null {
    return this.get<ManifestRow>('manifestByDigest', repositoryId, digest) ?? null
  }

  manifestByTag(repositoryId: number, tag: string): ManifestRow | null {
    return this.get<ManifestRow>('manifestByTag', repositoryId, tag) ?? null
  }

  /** Tag names after `page.after` in byte order; parent tags only when asked for. */
  tags(repositoryId: number, page: Page, includeParents: boolean): string[] {
    return this.all<{ name: string }>('tags', { repo: repositoryId, after: page.after, limit: page.limit, parents: includeParents ? 1 : 0 }).map((r) => r.name)
  }

  /** OCI names of all repositories (packs as `<namespace>/<name>`) after `page.after`. */
  catalog(namespace: string, page: Page): string[] {
    return this.all<{ oci: string }>('catalog', { namespace, after: page.after, limit: page.limit }).map((r) => r.oci)
  }

  /** Manifests of the repository whose subject is `subject`, by digest after `page.after`. */
  referrers(repositoryId: number, subject: string, artifactType: string | null, page: Page): ManifestRow[] {
    return this.all<ManifestRow>('referrers', { repo: repositoryId, subject, artifactType, after: page.after, limit: page.limit })
  }

  session(id: string): SessionRow | null {
    return this.get<SessionRow>('session', id) ?? null
  }

  /** How many upload sessions are open. */
  openSessions(): number {
    return (this.get<{ n: number }>('openSessions') as { n: number }).n
  }

  /** Sessions last touched before `before` (ms since the epoch). */
  staleSessions(before: number): SessionRow[] {
    return this.all<SessionRow>('staleSessions', before)
  }

  /** Sessions that have recorded no byte and were last touched before `before`. */
  emptySessions(before: number): SessionRow[] {
    return this.all<SessionRow>('emptySessions', before)
  }

  // ---- state changes, one transaction each

  // Session bookkeeping is not durable (see writeTransaction): a session lost in a crash costs
  // the client a restart of that one upload, and its staged bytes are purged.

  /**
   * Opens a session for `owner` unless it already holds `maxPerOwner` open ones (false: not
   * created). Counted and inserted in one transaction, so concurrent requests cannot overshoot.
   */
  createSession(id: string, repository: string, owner: string, now: number, maxPerOwner: number): boolean {
    return writeTransaction(
      this.db,
      () => {
        const { n } = this.get<{ n: number }>('ownedSessions', owner, maxPerOwner) as { n: number }
        if (n >= maxPerOwner) return false
        this.run('createSession', id, repository, owner, now, now)
        return true
      },
      NOT_DURABLE,
    )
  }

  touchSession(id: string, size: number, now: number): void {
    writeTransaction(this.db, () => this.run('touchSession', size, now, id), NOT_DURABLE)
  }

  deleteSession(id: string): boolean {
    return writeTransaction(this.db, () => this.run('deleteSession', id) > 0, NOT_DURABLE)
  }

  /**
   * Records a stored blob and links it to the repository (created if new); in the same
   * transaction the upload session that produced it ends and the lease that protected it.
   */
  addBlob(repo: RepositoryKey, blob: BlobRow, now: number, done: { sessionId?: string; leaseId: string }): void {
    writeTransaction(this.db, () => {
      this.blobs.recordInRepository(this.ensureRepository(repo, now), blob, now)
      if (done.sessionId !== undefined) this.run('deleteSession', done.sessionId)
      this.blobs.releaseLease(done.leaseId)
    })
  }

  /** Links a blob of repository `fromId` into `repo`; null when `fromId` does not have it. */
  mountBlob(repo: RepositoryKey, digest: string, from: { id: number; key: RepositoryKey }, now: number, actor: string): BlobRow | null {
    return writeTransaction(this.db, () => {
      const blob = this.blob(from.id, digest)
      if (!blob) return null
      // Accepted again, as an upload of the same bytes would be: its grace period restarts, so
      // garbage collection leaves it to the manifest about to name it.
      this.blobs.recordInRepository(this.ensureRepository(repo, now), blob, now)
      recordNotification(this.db, { action: 'mount', actor, repository: repo, mediaType: BLOB_MEDIA_TYPE, size: blob.size, digest, fromRepository: from.key })
      return blob
    })
  }

  /** Removes a blob from a repository (the bytes stay for garbage collection). */
  unlinkBlob(repo: RepositoryKey, repositoryId: number, digest: string, log: { actor: string; repository: string; now: number }): boolean {
    return writeTransaction(this.db, () => {
      const size = this.blob(repositoryId, digest)?.size ?? 0
      if (!this.blobs.unlink(repositoryId, digest)) return false
      recordNotification(this.db, { action: 'delete', actor: log.actor, repository: repo, mediaType: BLOB_MEDIA_TYPE, size, digest })
      this.event({ at: log.now, actor: log.actor, action: 'blob.delete', repository: log.repository, old: digest })
      return true
    })
  }

  /**
   * Stores a manifest (and moves `tag` to it) after checking, in the same transaction, that
   * every blob and child manifest it names is in the repository with the declared size.
   */
  putManifest(repo: RepositoryKey, m: ManifestRecord, tag: string | null, log: { actor: string; repository: string; now: number }): PutManifestResult {
    return writeTransaction(this.db, (): PutManifestResult => {
      const existingId = this.repositoryId(repo)
      const problems: ReferenceProblem[] = []
      for (const ref of m.blobs) {
        const found = existingId === null ? null : this.blob(existingId, ref.digest)
        if (found?.size !== ref.size) problems.push({ kind: 'blob', digest: ref.digest, declaredSize: ref.size, actualSize: found?.size ?? null })
      }
      for (const ref of m.manifests) {
        const found = existingId === null ? null : this.manifestByDigest(existingId, ref.digest)
        if (found?.size !== ref.size) problems.push({ kind: 'manifest', digest: ref.digest, declaredSize: ref.size, actualSize: found?.size ?? null })
      }
      if (problems.length > 0) return { ok: false, problems }

      const { now } = log
      const repoId = this.ensureRepository(repo, now)
      const created =
        this.run('insertManifest', {
          repo: repoId,
          digest: m.digest,
          mediaType: m.mediaType,
          artifactType: m.artifactType,
          size: m.content.length,
          content: m.content,
          subject: m.subjectDigest,
          now,
        }) > 0
      const manifestId = (this.manifestByDigest(repoId, m.digest) as ManifestRow).id
      if (created) {
        for (const ref of m.blobs) this.run('insertReference', manifestId, ref.digest, 'blob')
        for (const ref of m.manifests) this.run('insertReference', manifestId, ref.digest, 'manifest')
      }
      let previousDigest: string | null = null
      if (tag !== null) {
        previousDigest = this.get<{ digest: string }>('tag', repoId, tag)?.digest ?? null
        this.run('upsertTag', { repo: repoId, name: tag, manifest: manifestId, seq: this.seq.next(), now })
      }
      if (created || (tag !== null && previousDigest !== m.digest)) {
        const action: EventAction = tag === null || previousDigest === null ? (created ? 'create' : 'tag') : 'update'
        this.event({ at: now, actor: log.actor, action, repository: log.repository, tag, old: previousDigest, new: m.digest })
      }
      recordNotification(this.db, {
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
  deleteManifest(repo: RepositoryKey, repositoryId: number, digest: string, log: { actor: string; repository: string; now: number }): { tags: string[] } | null {
    return writeTransaction(this.db, () => {
      const manifest = this.manifestByDigest(repositoryId, digest)
      if (!manifest) return null
      recordNotification(this.db, { action: 'delete', actor: log.actor, repository: repo, mediaType: manifest.media_type, size: manifest.size, digest })
      const tags = this.all<{ name: string }>('tagsOfManifest', manifest.id).map((r) => r.name)
      this.run('deleteTagsOfManifest', manifest.id)
      this.run('deleteManifest', manifest.id)
      // As for a pack version: the first tag, and all of them in the message.
      this.event({ at: log.now, actor: log.actor, action: 'delete', repository: log.repository, tag: tags[0] ?? null, old: digest, message: tags.join(',') })
      return { tags }
    })
  }

  /** Deletes a tag (the manifest stays); false when there is no such tag. */
  deleteTag(repo: RepositoryKey, repositoryId: number, tag: string, log: { actor: string; repository: string; now: number }): boolean {
    return writeTransaction(this.db, () => {
      const found = this.get<{ id: number; digest: string }>('tag', repositoryId, tag)
      if (!found) return false
      if (isRecording(this.db)) {
        const manifest = this.manifestByDigest(repositoryId, found.digest)
        recordNotification(this.db, { action: 'delete', actor: log.actor, repository: repo, mediaType: manifest?.media_type ?? '', size: manifest?.size ?? 0, digest: found.digest, tag })
      }
      this.run('deleteTag', found.id)
      this.event({ at: log.now, actor: log.actor, action: 'untag', repository: log.repository, tag, old: found.digest })
      return true
    })
  }
}
