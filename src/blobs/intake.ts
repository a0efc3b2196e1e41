// Every blob a request writes or relies on comes in through here, so that garbage collection can
// never remove it between the moment its digest is known and the commit that references it.
// The order is: verified bytes staged (nothing visible), a lease committed in the database, then
// the bytes placed; the lease ends inside the metadata transaction that records the reference
// (or when the request fails). Garbage collection skips leased blobs and marks the blobs it
// deletes; a writer that leases a blob being deleted waits for the deletion to finish and then
// places its own verified copy. Whatever the grace period, an acknowledged push keeps its bytes.

import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import type { BlobMeta } from '../meta/blobs.js'
import { sha256Digest } from '../store/digest.js'
import type { BlobInfo, BlobStore, PutExpectation, StagedBlob } from '../store/types.js'

/** A lease older than this is a crashed request's; garbage collection ignores it. */
export const LEASE_TTL_MS = 60 * 60_000
/** A deletion marked longer ago than this belongs to a collection that died. */
const DELETION_STALE_MS = 10 * 60_000
const DELETION_POLL_MS = 25

/** The blobs one request is about to reference. */
export class Lease {
  readonly id = randomUUID()
  private taken = false

  constructor(private readonly meta: BlobMeta) {}

  /** Leases more digests; returns those being deleted right now (with when that started). */
  async take(digests: string[], now = Date.now()): Promise<Map<string, number>> {
    if (digests.length === 0) return new Map()
    this.taken = true
    return this.meta.takeLease(this.id, digests, now)
  }

  /** Keeps a lease held for longer than LEASE_TTL_MS alive; call well within that. */
  async renew(now = Date.now()): Promise<void> {
    if (this.taken) await this.meta.renewLease(this.id, now)
  }

  /**
   * After a failed request (a commit ends the lease itself, by its id, in its transaction). A
   * lease that cannot be released now (the disk is full) expires by itself, so the request's
   * own error is what the client hears.
   */
  async release(): Promise<void> {
    try {
      if (this.taken) await this.meta.dropLease(this.id)
    } catch {
      // expires after LEASE_TTL_MS
    }
  }
}

export class BlobIntake {
  constructor(
    private readonly store: BlobStore,
    private readonly meta: BlobMeta,
  ) {}

  newLease(): Lease {
    return new Lease(this.meta)
  }

  /** Receives a stream as a blob held by `lease`. */
  async put(source: Readable, lease: Lease, expected?: PutExpectation): Promise<BlobInfo> {
    const [blob] = await this.placeAll([await this.store.stage(source, expected)], lease)
    return blob as BlobInfo
  }

  /**
   * Leases the staged blobs in one commit, waits out any deletion of the same digests, and
   * places them. The staged bytes are discarded afterwards whatever happens.
   */
  async placeAll(staged: StagedBlob[], lease: Lease): Promise<BlobInfo[]> {
    try {
      const deleting = await lease.take(staged.map((s) => s.digest))
      for (const [digest, startedAt] of deleting) await this.waitForDeletion(digest, startedAt)
      await placeTogether(staged)
      return staged.map((s) => ({ digest: s.digest, size: s.size }))
    } finally {
      await discardAll(staged)
    }
  }

  /**
   * Small blobs already in memory (a pack's pack.json, values.yaml, logo...): hashed in memory
   * and leased first, so one already stored with the right size is not written again (most of a
   * new version's small files, and the empty config, are); only the rest are staged and placed.
   */
  async placeBuffers(buffers: Buffer[], lease: Lease): Promise<BlobInfo[]> {
    const infos = buffers.map((data) => ({ digest: sha256Digest(data), size: data.length }))
    const deleting = await lease.take(infos.map((i) => i.digest))
    for (const [digest, startedAt] of deleting) await this.waitForDeletion(digest, startedAt)
    const missing: Buffer[] = []
    await Promise.all(
      infos.map(async (info, i) => {
        if ((await this.store.stat(info.digest))?.size !== info.size) missing.push(buffers[i] as Buffer)
      }),
    )
    const staging = await Promise.allSettled(missing.map((data) => this.store.stage(Readable.from([data]))))
    const staged = staging.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
    try {
      for (const s of staging) if (s.status === 'rejected') throw s.reason
      await placeTogether(staged)
    } finally {
      await discardAll(staged)
    }
    return infos
  }

  private async waitForDeletion(digest: string, startedAt: number): Promise<void> {
    let since = startedAt
    while (since !== null && Date.now() - since < DELETION_STALE_MS) {
      await new Promise((resolve) => setTimeout(resolve, DELETION_POLL_MS))
      since = (await this.meta.deletionStartedAt(digest)) as number
    }
  }
}

/**
 * Places blobs at the same time: each is a link and a directory fsync, and concurrent fsyncs
 * share the file system's journal commits, where one after another each waits for its own.
 * The first failure is thrown once every placement has ended.
 */
async function placeTogether(staged: StagedBlob[]): Promise<void> {
  const placed = await Promise.allSettled(staged.map((blob) => blob.place()))
  for (const p of placed) if (p.status === 'rejected') throw p.reason
}

/** Removes what is left of staged blobs (temp files of those not placed), all of them. */
async function discardAll(staged: StagedBlob[]): Promise<void> {
  await Promise.allSettled(staged.map((blob) => blob.discard()))
}
