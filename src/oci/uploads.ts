// Blob uploads of the OCI distribution API: monolithic (POST ?digest=), resumable sessions
// (POST, PATCH chunks, PUT to finish, GET status, DELETE cancel), cross-repository mounts, and
// the purging of abandoned uploads. Bytes stream through the blob store and the upload
// staging, never into memory; a blob becomes visible to clients only in the transaction that
// records it (blobs row + repository link + end of session). Each user may hold a bounded
// number of sessions open (counted in the database, so it holds across replicas), and sessions
// that never receive a byte are purged after minutes.
//
// Requests on one session are serialized, so chunks cannot interleave and a commit never races
// an append, across replicas too (each request of an upload may land on a different one, and
// the staging keeps everything in the shared store): within this process they queue, then the
// request claims the session's row in the database (meta/oci.ts; not with SQLite, which one
// server holds, so that the queue is all the order there is), waiting with a short backoff
// while another replica holds it, and answering 409 CONFLICT if that lasts longer than a claim
// can (claimWaitMs). The claim is renewed while the request streams and let go at its end; a
// request whose claim is lost (this process stalled past the TTL, or the database could not
// renew it) stops reading its chunk, so it leaves the upload as it was. A replica killed
// mid-request lets its claim expire, and any replica then continues the upload. Purging runs on
// one replica at a time (Database.exclusively) and claims each session it removes, so it never
// removes one any replica is working on.

import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Readable } from 'node:stream'
import type { BlobIntake } from '../blobs/intake.js'
import { isRegistryError, RegistryError } from '../errors.js'
import type { Database } from '../meta/database.js'
import { type BlobRow, OciMeta, type SessionRow } from '../meta/oci.js'
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
  /** Present when nothing was looked at: a purge was running elsewhere (another replica). */
  skipped?: true
}

/** Purges of every kind take turns under this name, whichever replica runs them. */
const PURGE_WORK = 'upload-purging'
const DEFAULT_CLAIM_TTL_MS = 30_000
/** Waits between looks at a session another replica holds: from the first to the last, doubling. */
const CLAIM_POLL_MS = [20, 500] as const

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
  /** The replica's id, which names this process in the claims it takes (each claim adds a token of its own). */
  replicaId: string
  /** How long a claim lasts unless renewed (a third of it between renewals while a request runs); 30 s by default. */
  claimTtlMs?: number
  /** How long a request waits for a session held elsewhere before 409 CONFLICT; by default a claim's TTL and 2 s, so a dead replica's claim is outwaited. */
  claimWaitMs?: number
}

/**
 * A session claimed for one request; lost when it could not be renewed in time. `by` null: a
 * claim of this process alone, where one server holds the database (nothing to renew or let go).
 */
class Claim {
  private readonly timer: NodeJS.Timeout | null
  private lost: Error | null = null
  private readonly losers: Array<(err: Error) => void> = []
  /** Set once the claim was let go by a statement that did more (touchSession). */
  released = false

  constructor(
    private readonly meta: OciMeta,
    readonly session: SessionRow,
    readonly by: string | null,
    ttlMs: number,
  ) {
    this.timer = by === null ? null : setInterval(() => {
      meta.renewClaim(session.id, by, Date.now() + ttlMs).then(
        (held) => {
          if (!held) this.lose(new RegistryError('BLOB_UPLOAD_UNKNOWN', `blob upload ${session.id} was taken over or ended while this request ran (it was not renewed in time); ask for its status and resume`, { uuid: session.id }))
        },
        // Without the database, no one can tell who holds the session: stop before the claim runs out.
        (err: unknown) => this.lose(new RegistryError('UNAVAILABLE', `blob upload ${session.id}: its claim could not be renewed (${err instanceof Error ? err.message : String(err)}); try again`, { uuid: session.id }, { 'retry-after': '5' })),
      )
    }, Math.max(1, Math.floor(ttlMs / 3)))
    this.timer?.unref()
  }

  private lose(err: Error): void {
    if (this.lost || this.released) return
    this.lost = err
    if (this.timer) clearInterval(this.timer)
    for (const loser of this.losers) loser(err)
  }

  /** Destroys `source` (the chunk being read) if the claim is lost before it ends. */
  guard(source: Readable): Readable {
    if (this.lost) source.destroy(this.lost)
    else this.losers.push((err) => source.destroy(err))
    return source
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    if (this.released || this.lost || this.by === null) return
    this.released = true
    // A claim that cannot be let go now (the database is away) expires by itself.
    await this.meta.releaseClaim(this.session.id, this.by).catch(() => undefined)
  }
}

export class OciUploads {
  private readonly meta: OciMeta
  /** Tail of the work queued on each session id. */
  private readonly busy = new Map<string, Promise<void>>()
  private readonly claimTtlMs: number
  private readonly claimWaitMs: number

  constructor(
    private readonly db: Database,
    private readonly intake: BlobIntake,
    private readonly staging: UploadStaging,
    private readonly settings: UploadSettings,
    private readonly watchPackUpload: PackUploadWatcher | null = null,
  ) {
    this.meta = new OciMeta(db)
    this.claimTtlMs = settings.claimTtlMs ?? DEFAULT_CLAIM_TTL_MS
    this.claimWaitMs = settings.claimWaitMs ?? this.claimTtlMs + 2000
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

  /**
   * Bytes received so far. Waits for this process's requests on the session, but takes no claim:
   * a client asking where to resume is answered at once even while another replica works on the
   * session (a chunk in progress there is either counted when it ends or refused with the size).
   */
  async status(repo: RepositoryLocator, id: string): Promise<number> {
    return this.serialized(id, async () => {
      const session = await this.meta.session(id)
      if (!session || session.repository !== repo.oci) throw unknownSession(repo, id)
      return this.staging.size(id)
    })
  }

  /** PATCH: appends a chunk; returns the new size. */
  async append(repo: RepositoryLocator, id: string, source: Readable, chunk: ChunkExpectation): Promise<number> {
    return this.exclusive(repo, id, async (claim) => {
      const size = await this.staging.append(id, claim.guard(source), chunk)
      // The size recorded and the claim let go in one statement.
      claim.released = await this.meta.touchSession(id, size, Date.now(), claim.by)
      // Lost at the last moment (the claim expired and another request took the session, or the
      // session ended): what this chunk left may have been overtaken, so the size is not told.
      if (!claim.released) {
        if (!(await this.meta.session(id))) throw unknownSession(repo, id)
        throw new RegistryError(
          'CONFLICT',
          `blob upload ${id} was taken over by another request while this chunk arrived (this request held it longer than its claim); ask for the upload's status (GET its Location) and resume from the size it gives`,
          { uuid: id },
        )
      }
      return size
    })
  }

  /**
   * PUT ?digest=: appends the last chunk (if any), verifies the whole upload and records the
   * blob. A digest or size mismatch ends the session, as in distribution: the client starts over.
   */
  async finish(repo: RepositoryLocator, id: string, digest: string, source: Readable | null, chunk: ChunkExpectation): Promise<BlobRow> {
    assertDigest(digest)
    return this.exclusive(repo, id, async (claim) => {
      // The whole blob in this request (ORAS and most clients upload that way): watch it. The
      // size recorded in the session decides, not the staging (a round trip with S3); should it
      // lag (a crash between a chunk and its record), a chunk that is no pack archive is read
      // and ignored.
      const last = source ? { source: claim.guard(claim.session.size === 0 ? this.watched(repo, source, digest) : source), chunk } : undefined
      let staged
      try {
        staged = await this.staging.commit(id, { digest }, last)
      } catch (err) {
        if (isRegistryError(err) && (err.code === 'DIGEST_INVALID' || err.code === 'SIZE_INVALID')) await this.end(id)
        throw err
      }
      const lease = this.intake.newLease()
      try {
        const [info] = (await this.intake.placeAll([staged], lease)) as [BlobRow]
        await this.meta.addBlob(repo, info, Date.now(), { sessionId: id, leaseId: lease.id })
        // The session's row went with its claim.
        claim.released = true
        return info
      } catch (err) {
        await lease.release()
        throw err
      }
    })
  }

  /** DELETE: abandons the upload and its bytes. */
  async cancel(repo: RepositoryLocator, id: string): Promise<void> {
    await this.exclusive(repo, id, async (claim) => {
      await this.end(id)
      claim.released = true
    })
  }

  /**
   * Removes sessions that never received a byte and were started more than `emptyAgeMs` ago
   * (clients that open sessions and walk away), leaving held ones and any whose staged bytes
   * arrived without being recorded yet. Reads only those sessions (an index), not the staging.
   * Skipped while a purge runs on any replica.
   */
  async purgeEmpty(emptyAgeMs: number, now = Date.now()): Promise<PurgeResult> {
    const outcome = await this.db.exclusively(PURGE_WORK, async () => {
      const sessions: string[] = []
      for (const session of await this.meta.emptySessions(now - emptyAgeMs, Date.now())) {
        if (this.busy.has(session.id)) continue
        const staged = await this.staging.size(session.id).catch((err: unknown) => {
          if (isRegistryError(err) && err.code === 'BLOB_UPLOAD_UNKNOWN') return 0
          throw err
        })
        if (staged > 0) continue
        if (await this.endIdle(session.id, (row) => row.size === 0 && row.updated_at < now - emptyAgeMs)) sessions.push(session.id)
      }
      return { sessions, files: [], bytes: 0 }
    })
    return outcome.ran ? outcome.value : skippedPurge()
  }

  /**
   * Removes sessions idle for longer than `ageMs` with their bytes, then staged files no
   * session owns that were last written before then (left by crashes or interrupted puts).
   * Work in progress is never touched: a session any replica holds, or a file written within
   * `ageMs`. Skipped while a purge runs on any replica.
   */
  async purge(ageMs: number, now = Date.now()): Promise<PurgeResult> {
    const outcome = await this.db.exclusively(PURGE_WORK, async () => {
      const cutoff = now - ageMs
      const entries = new Map<string, StagedEntry>()
      for await (const entry of this.staging.list()) entries.set(entry.id, entry)
      const sessions: string[] = []
      let bytes = 0
      for (const session of await this.meta.staleSessions(cutoff, Date.now())) {
        const entry = entries.get(session.id)
        if (this.busy.has(session.id) || (entry && entry.modifiedAt >= cutoff)) continue
        if (!(await this.endIdle(session.id, (row) => row.updated_at < cutoff))) continue
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
    })
    return outcome.ran ? outcome.value : skippedPurge()
  }

  /**
   * Ends a session the purge found idle, if no one holds it and it is still idle once claimed
   * (`idle`): a request on another replica may have taken and let go of it since it was read.
   */
  private async endIdle(id: string, idle: (row: SessionRow) => boolean): Promise<boolean> {
    return this.serialized(id, async () => {
      const by = this.claimant()
      const row = await this.meta.claimSession(id, null, by, Date.now(), Date.now() + this.claimTtlMs)
      if (!row) return false
      if (!idle(row)) {
        await this.meta.releaseClaim(id, by)
        return false
      }
      await this.end(id)
      return true
    })
  }

  private watched(repo: RepositoryLocator, source: Readable, digest: string): Readable {
    return repo.kind === 'pack' && this.watchPackUpload ? this.watchPackUpload(source, digest) : source
  }

  /** Row first, so no request can continue the session while its bytes go. */
  private async end(id: string): Promise<void> {
    await this.meta.deleteSession(id)
    await this.staging.cancel(id)
  }

  /**
   * Runs `fn` holding the session's claim, once the session's earlier requests in this process
   * are done and no other replica holds it, if the session is `repo`'s.
   */
  private exclusive<T>(repo: RepositoryLocator, id: string, fn: (claim: Claim) => Promise<T>): Promise<T> {
    return this.serialized(id, async () => {
      const claim = await this.claim(repo, id)
      try {
        return await fn(claim)
      } finally {
        await claim.release()
      }
    })
  }

  /**
   * Who a new claim is held by: the replica and a token of this claim's own, so that a request
   * whose claim expired can never renew or let go of the next holder's, even one of a replica
   * with the same id (ids may repeat: a restarted replica, or two configured alike).
   */
  private claimant(): string {
    return `${this.settings.replicaId}/${randomUUID().slice(0, 8)}`
  }

  /** Claims session `id` of `repo`, waiting (bounded) while another replica holds it. */
  private async claim(repo: RepositoryLocator, id: string): Promise<Claim> {
    if (!this.db.sharedByReplicas) {
      // One server holds the database, and this process's queue (serialized) already orders the
      // session's requests: a claim in the database would only wait behind other writes.
      const session = await this.meta.session(id)
      if (!session || session.repository !== repo.oci) throw unknownSession(repo, id)
      return new Claim(this.meta, session, null, this.claimTtlMs)
    }
    const by = this.claimant()
    const deadline = Date.now() + this.claimWaitMs
    for (let wait: number = CLAIM_POLL_MS[0]; ; wait = Math.min(wait * 2, CLAIM_POLL_MS[1])) {
      const now = Date.now()
      const session = await this.meta.claimSession(id, repo.oci, by, now, now + this.claimTtlMs)
      if (session) return new Claim(this.meta, session, by, this.claimTtlMs)
      const found = await this.meta.session(id)
      if (!found || found.repository !== repo.oci) throw unknownSession(repo, id)
      if (Date.now() + wait > deadline) {
        throw new RegistryError(
          'CONFLICT',
          `blob upload ${id} is busy with another request (on another replica) that has not ended in ${Math.round(this.claimWaitMs / 1000)} s; send one request at a time on an upload, and try again once the other has ended`,
          { uuid: id },
          { 'retry-after': String(Math.ceil(this.claimTtlMs / 1000)) },
        )
      }
      await sleep(wait)
    }
  }

  /**
   * Runs `fn` once the work queued on session `id` in this process is done; work queued later
   * waits for it (and so does not poll the database for a claim this process holds).
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

function unknownSession(repo: RepositoryLocator, id: string): RegistryError {
  return new RegistryError('BLOB_UPLOAD_UNKNOWN', `blob upload ${id} is not known in ${repo.oci} (finished, cancelled or expired)`, { uuid: id })
}

function skippedPurge(): PurgeResult {
  return { sessions: [], files: [], bytes: 0, skipped: true }
}
