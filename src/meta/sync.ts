// The one owner of sync_origins (migration 0014): which tags `packyard sync` wrote, from which
// upstream, pointing at which manifest. Also writes and reads the sync events of the event log
// (a run, a conflict), through EventLog, and the per-upstream figures the registry page and the
// metrics show, read back from those events so that runs of the command and of the server count
// alike.

import { type Database, type Statement, writeTransaction } from './database.js'
import { EventLog, NO_REPOSITORY } from './events.js'

export interface SyncOrigin {
  upstream: string
  manifest_digest: string
}

/** What one run did, as its event's detail records it. */
export interface SyncRunDetail {
  upstream: string
  dryRun: boolean
  ok: boolean
  startedAt: number
  packsCopied: number
  tagsUnchanged: number
  blobsCopied: number
  bytesCopied: number
  conflicts: number
  refused: number
  failed: number
  /** A failure of the whole run (the upstream could not be listed), or null. */
  error: string | null
}

export interface SyncUpstreamTotals {
  upstream: string
  runs: number
  failedRuns: number
  packsCopied: number
  bytesCopied: number
  packFailures: number
  /** When the last run without a failure ended (ms), or null. */
  lastSuccessAt: number | null
  last: (SyncRunDetail & { at: number }) | null
}

/** Sync runs read per page, newest first. */
const RUNS_PAGE = 100

export class SyncMeta {
  private readonly events: EventLog
  private readonly getOrigin: Statement
  private readonly putOrigin: Statement
  private readonly runs: Statement
  private readonly runsBefore: Statement

  constructor(private readonly db: Database) {
    this.events = new EventLog(db)
    this.getOrigin = db.prepare('SELECT upstream, manifest_digest FROM sync_origins WHERE repository = ? AND tag = ?')
    this.putOrigin = db.prepare(
      `INSERT INTO sync_origins (repository, tag, upstream, manifest_digest, synced_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (repository, tag) DO UPDATE SET upstream = excluded.upstream, manifest_digest = excluded.manifest_digest, synced_at = excluded.synced_at`,
    )
    this.runs = db.prepare({
      sqlite: `SELECT at, detail FROM events INDEXED BY events_sync_runs WHERE action = 'sync' ORDER BY id`,
      postgres: `SELECT at, detail FROM events WHERE action = 'sync' ORDER BY id`,
    })
    this.runsBefore = db.prepare({
      sqlite: `SELECT id, at, detail FROM events INDEXED BY events_sync_runs WHERE action = 'sync' AND id < ? ORDER BY id DESC LIMIT ${RUNS_PAGE}`,
      postgres: `SELECT id, at, detail FROM events WHERE action = 'sync' AND id < ? ORDER BY id DESC LIMIT ${RUNS_PAGE}`,
    })
  }

  async origin(pack: string, tag: string): Promise<SyncOrigin | undefined> {
    return (await this.getOrigin.get(pack, tag)) as SyncOrigin | undefined
  }

  /** Before the publish that writes the tag (see migration 0014). */
  async recordOrigin(pack: string, tag: string, upstream: string, manifestDigest: string, now = Date.now()): Promise<void> {
    await writeTransaction(this.db, () => this.putOrigin.run(pack, tag, upstream, manifestDigest, now))
  }

  /** A tag here that sync did not write, left as it is; the upstream has other content under it. */
  /** `owner`: the other upstream the tag here was mirrored from; null when it was pushed here. */
  async recordConflict(actor: string, pack: string, tag: string, localDigest: string, upstreamDigest: string, upstream: string, owner: string | null = null): Promise<void> {
    await writeTransaction(this.db, () =>
      this.events.append({
        at: Date.now(),
        actor,
        action: 'sync.conflict',
        repository: pack,
        tag,
        oldDigest: localDigest,
        newDigest: upstreamDigest,
        forced: false,
        message: owner === null
          ? `not mirrored from ${upstream}: ${pack}:${tag} was pushed here, and sync never overwrites a tag it did not write`
          : `not mirrored from ${upstream}: ${pack}:${tag} was mirrored from ${owner}, and an upstream never overwrites a tag another one wrote`,
        detail: owner === null ? { upstream } : { upstream, owner },
      }),
    )
  }

  async recordRun(actor: string, detail: SyncRunDetail): Promise<void> {
    await writeTransaction(this.db, () =>
      this.events.append({ at: Date.now(), actor, action: 'sync', repository: NO_REPOSITORY, tag: null, oldDigest: null, newDigest: null, forced: false, message: null, detail: { ...detail } }),
    )
  }

  /** When the last run (not a dry run) of `upstream` ended, or null when none has: read from the newest back. */
  async lastRunAt(upstream: string): Promise<number | null> {
    let before = Number.MAX_SAFE_INTEGER
    for (;;) {
      const rows = (await this.runsBefore.all(before)) as Array<{ id: number; at: number; detail: string }>
      for (const row of rows) {
        const run = JSON.parse(row.detail) as SyncRunDetail
        if (run.upstream === upstream && !run.dryRun) return row.at
      }
      if (rows.length < RUNS_PAGE) return null
      before = (rows[rows.length - 1] as { id: number }).id
    }
  }

  /** Every upstream that has run, in name order, with its totals and its last run. */
  async upstreams(): Promise<SyncUpstreamTotals[]> {
    const by = new Map<string, SyncUpstreamTotals>()
    for (const row of (await this.runs.all()) as Array<{ at: number; detail: string }>) {
      const run = JSON.parse(row.detail) as SyncRunDetail
      if (run.dryRun) continue
      let t = by.get(run.upstream)
      if (!t) {
        t = { upstream: run.upstream, runs: 0, failedRuns: 0, packsCopied: 0, bytesCopied: 0, packFailures: 0, lastSuccessAt: null, last: null }
        by.set(run.upstream, t)
      }
      t.runs++
      if (!run.ok) t.failedRuns++
      t.packsCopied += run.packsCopied
      t.bytesCopied += run.bytesCopied
      t.packFailures += run.failed + run.refused
      if (run.ok) t.lastSuccessAt = row.at
      t.last = { ...run, at: row.at }
    }
    return [...by.values()].sort((a, b) => (a.upstream < b.upstream ? -1 : 1))
  }
}
