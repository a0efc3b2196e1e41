// Blob uploads of the OCI distribution API: monolithic (POST ?digest=), resumable sessions
// (POST, PATCH chunks, PUT to finish, GET status, DELETE cancel), cross-repository mounts, and
// the purging of abandoned uploads. Bytes stream through the blob store and the upload
// staging, never into memory; a blob becomes visible to clients only in the transaction that
// records it (blobs row + repository link + end of session). Requests on one session are
// serialized, so chunks cannot interleave and a commit never races an append. Each user may
// hold a bounded number of sessions open (counted in the database, so it holds across
// replicas), and sessions that never receive a byte are purged after minutes.

import { randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { BlobIntake } from '../blobs/intake.js'
import { isRegistryError, RegistryError } from '../errors.js'
import type { Database } from '../meta/database.js'
import { type BlobRow, OciMeta } from '../meta/oci.js'
import { assertDigest } from '../store/digest.js'
import type { ChunkExpectation, StagedEntry, UploadStaging } from '../store/uploads.js'
import type { RepositoryLocator } from './names.js'

export interface PurgeResult {
  /** Upload sessions removed with their bytes. */
  sessions: string[]
  /** Staged files without a session (orphans, temp files of interrupted puts). */
  files: string[]
  /** Staged bytes removed with them. */
  bytes: number
}

/**
 * Sees the bytes of a blob uploaded in one request into a pack repository as they stream, and
 * returns the stream to store (the pack layer reads a pack archive on the way, so the manifest
 * PUT that follows need not read it again). `digest` is the one the client declared, which the
 * blob is stored under only if its bytes have it.
 */
export type PackUploadWatcher = (source: Readable, digest: string) => Readable

export interface UploadSettings {
  /** limits.uploadsessions: upload sessions one user may hold open at once. */
  maxSessionsPerUser: number
}

export class OciUploads {
  private readonly meta: OciMeta
  /** Tail of the work queued on each session id. */
  private readonly busy = new Map<string, Promise<void>>()

  constructor(
    db: Database,
    private readonly intake: BlobIntake,
    private readonly staging: UploadStaging,
    private readonly settings: UploadSettings,
    private readonly watchPackUpload: PackUploadWatcher | null = null,
  ) {
    this.meta = new OciMeta(db)
  }

  /**
   * Starts a resumable upload into `repo` for `user`; returns its id (the UUID in the Location).
   * A user who already holds limits.uploadsessions open sessions gets 429 TOOMANYREQUESTS.
   */
  async start(repo: RepositoryLocator, user: string): Promise<string> {
    const id = randomUUID()
    const max = this.settings.maxSessionsPerUser
    // Row first, so a request past the cap touches no disk. A crash before the file leaves a
    // session without bytes, which the next purge of empty sessions removes.
    if (!(await this.meta.createSession(id, repo.oci, user, Date.now(), max))) {
      throw new RegistryError(
        'TOOMANYREQUESTS',
        `user ${user} already has ${max} upload sessions open, the most limits.uploadsessions allows; finish or cancel some (DELETE the session's Location) before starting another. Sessions that never receive a byte are removed after storage.maintenance.uploadpurging.emptyage, others after storage.maintenance.uploadpurging.age`,
        { limit: max, key: 'limits.uploadsessions' },
      )
    }
    try {
      await this.staging.create(id)
    } catch (err) {
      await this.meta.deleteSession(id)
      throw err
    }
    return id
  }

  /** POST ?digest=: the whole blob in one request, verified against `digest`. */
  async monolithic(repo: RepositoryLocator, digest: string, source: Readable, size: number | undefined): Promise<BlobRow> {
    assertDigest(digest)
    const lease = this.intake.newLease()
    try {
      const info = await this.intake.put(this.watched(repo, source, digest), lease, { digest, size })
      await this.meta.addBlob(repo, info, Date.now(), { leaseId: lease.id })
      return info
    } catch (err) {
      await lease.release()
      throw err
    }
  }

  /** Links a blob of `from` into `repo`; null when `from` does not have it. */
  async mount(repo: RepositoryLocator, digest: string, from: RepositoryLocator, actor: string): Promise<BlobRow | null> {
    assertDigest(digest)
    const fromId = await this.meta.repositoryId(from)
    return fromId === null ? null : this.meta.mountBlob(repo, digest, { id: fromId, key: from }, Date.now(), actor)
  }

  /** Bytes received so far. */
  async status(repo: RepositoryLocator, id: string): Promise<number> {
    return this.exclusive(repo, id, () => this.staging.size(id))
  }

  /** PATCH: appends a chunk; returns the new size. */
  async append(repo: RepositoryLocator, id: string, source: Readable, chunk: ChunkExpectation): Promise<number> {
    return this.exclusive(repo, id, async () => {
      const size = await this.staging.append(id, source, chunk)
      await this.meta.touchSession(id, size, Date.now())
      return size
    })
  }

  /**
   * PUT ?digest=: appends the last chunk (if any), verifies the whole upload and records the
   * blob. A digest or size mismatch ends the session, as in distribution: the client starts over.
   */
  async finish(repo: RepositoryLocator, id: string, digest: string, source: Readable | null, chunk: ChunkExpectation): Promise<BlobRow> {
    assertDigest(digest)
    return this.exclusive(repo, id, async () => {
      // The whole blob in this request (ORAS and most clients upload that way): watch it.
      if (source) await this.staging.append(id, (await this.staging.size(id)) === 0 ? this.watched(repo, source, digest) : source, chunk)
      let staged
      try {
        staged = await this.staging.commit(id, { digest })
      } catch (err) {
        if (isRegistryError(err) && (err.code === 'DIGEST_INVALID' || err.code === 'SIZE_INVALID')) await this.end(id)
        throw err
      }
      const lease = this.intake.newLease()
      try {
        const [info] = (await this.intake.placeAll([staged], lease)) as [BlobRow]
        await this.meta.addBlob(repo, info, Date.now(), { sessionId: id, leaseId: lease.id })
        return info
      } catch (err) {
        await lease.release()
        throw err
      }
    })
  }

  /** DELETE: abandons the upload and its bytes. */
  async cancel(repo: RepositoryLocator, id: string): Promise<void> {
    await this.exclusive(repo, id, () => this.end(id))
  }

  /**
   * Removes sessions that never received a byte and were started more than `emptyAgeMs` ago
   * (clients that open sessions and walk away), leaving busy ones and any whose staged bytes
   * arrived without being recorded yet. Reads only those sessions (an index), not the staging.
   */
  async purgeEmpty(emptyAgeMs: number, now = Date.now()): Promise<PurgeResult> {
    const sessions: string[] = []
    for (const session of await this.meta.emptySessions(now - emptyAgeMs)) {
      if (this.busy.has(session.id)) continue
      const staged = await this.staging.size(session.id).catch((err: unknown) => {
        if (isRegistryError(err) && err.code === 'BLOB_UPLOAD_UNKNOWN') return 0
        throw err
      })
      if (staged > 0 || this.busy.has(session.id)) continue
      await this.serialized(session.id, () => this.end(session.id))
      sessions.push(session.id)
    }
    return { sessions, files: [], bytes: 0 }
  }

  /**
   * Removes sessions idle for longer than `ageMs` with their bytes, then staged files no
   * session owns that were last written before then (left by crashes or interrupted puts).
   * Work in progress is never touched: a busy session, or a file written within `ageMs`.
   */
  async purge(ageMs: number, now = Date.now()): Promise<PurgeResult> {
    const cutoff = now - ageMs
    const entries = new Map<string, StagedEntry>()
    for await (const entry of this.staging.list()) entries.set(entry.id, entry)
    const sessions: string[] = []
    let bytes = 0
    for (const session of await this.meta.staleSessions(cutoff)) {
      const entry = entries.get(session.id)
      if (this.busy.has(session.id) || (entry && entry.modifiedAt >= cutoff)) continue
      await this.serialized(session.id, () => this.end(session.id))
      entries.delete(session.id)
      sessions.push(session.id)
      bytes += entry?.size ?? 0
    }
    const files: string[] = []
    for (const entry of entries.values()) {
      if (entry.modifiedAt >= cutoff || (await this.meta.session(entry.id)) || this.busy.has(entry.id)) continue
      if (await this.staging.cancel(entry.id)) {
        files.push(entry.id)
        bytes += entry.size
      }
    }
    return { sessions, files, bytes }
  }

  private watched(repo: RepositoryLocator, source: Readable, digest: string): Readable {
    return repo.kind === 'pack' && this.watchPackUpload ? this.watchPackUpload(source, digest) : source
  }

  /** Row first, so no request can continue the session while its bytes go. */
  private async end(id: string): Promise<void> {
    await this.meta.deleteSession(id)
    await this.staging.cancel(id)
  }

  /** Runs `fn` once the session's earlier requests are done, if the session is `repo`'s. */
  private exclusive<T>(repo: RepositoryLocator, id: string, fn: () => Promise<T>): Promise<T> {
    return this.serialized(id, async () => {
      const session = await this.meta.session(id)
      if (!session || session.repository !== repo.oci) {
        throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `blob upload ${id} is not known in ${repo.oci} (finished, cancelled or expired)`, { uuid: id })
      }
      return fn()
    })
  }

  /**
   * Runs `fn` once the work queued on session `id` is done; work queued later waits for it. A
   * purge that found the session idle queues its removal at once, so a request arriving while
   * the row goes waits and then finds no session.
   */
  private async serialized<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.busy.get(id) ?? Promise.resolve()
    const run = previous.then(fn)
    const tail = run.then(
      () => undefined,
      () => undefined,
    )
    this.busy.set(id, tail)
    try {
      return await run
    } finally {
      if (this.busy.get(id) === tail) this.busy.delete(id)
    }
  }
}
