// The registry page's figures: version, storage backend, bytes and counts, the latest pushes,
// each notification endpoint's delivery state, the replicas recorded in the database with their
// state, and what garbage collection would do now with the default grace period, from the metadata
// (assessRecorded, the computation `packyard garbage-collect` starts with; only bytes the
// metadata has no record of need the store listed, too slow for a page view).

import { DEFAULT_GRACE_MS, type GarbageSummary, summaryLines } from '../maintenance/garbage.js'
import { assessRecorded } from '../maintenance/gc.js'
import type { BrowseMeta } from '../meta/browse.js'
import type { Database } from '../meta/database.js'
import { SyncMeta } from '../meta/sync.js'
import type { ReplicaStatus } from '../meta/replicas.js'
import type { EndpointStatus } from '../notifications/sender.js'

export interface OverviewSettings {
  version: string
  storage: 'filesystem' | 'inmemory' | 's3'
  /** the OCI namespace packs appear under, to name a push's repository */
  ociNamespace: string
  latestPushes: number
  /** The notification endpoints' state (none without notifications.endpoints). */
  notifications: () => EndpointStatus[] | Promise<EndpointStatus[]>
  /** This server's replica.id, marked in the list. */
  replica: string
  /** Every replica recorded in the database, with its state now. */
  replicas: () => Promise<ReplicaStatus[]>
}

export interface PushView {
  at: string
  actor: string
  action: string
  /** a pack name, or an OCI repository name */
  repository: string
  /** what the repository is now: a pack, an OCI repository, or gone */
  kind: 'pack' | 'oci' | 'deleted'
  tag: string | null
  oldDigest: string | null
  newDigest: string | null
  forced: boolean
  message: string | null
}

export interface RegistrySummary {
  version: string
  storage: string
  ociNamespace: string
  bytes: { blobs: number; database: number; uploads: number }
  counts: { packs: number; versions: number; repositories: number; ociRepositories: number; manifests: number; tags: number; blobs: number; uploads: number }
  /** `lines`: the figures in the words `packyard garbage-collect` prints them in */
  garbage: GarbageSummary & { lines: string[] }
  latestPushes: PushView[]
  notifications: EndpointStatus[]
  /** Each upstream `packyard sync` or the server's periodic mirror has run against: its last run. */
  mirrors: MirrorView[]
  /** The server processes sharing this metadata, by id; `current`: the one answering. */
  replicas: ReplicaView[]
}

export interface ReplicaView {
  id: string
  address: string
  version: string
  startedAt: string
  lastSeen: string
  state: ReplicaStatus['state']
  current: boolean
}

export interface MirrorView {
  upstream: string
  at: string
  ok: boolean
  lastSuccessAt: string | null
  packsCopied: number
  bytesCopied: number
  conflicts: number
  refused: number
  failed: number
  error: string | null
}

export class RegistryOverview {
  constructor(
    private readonly browse: BrowseMeta,
    private readonly db: Database,
    private readonly settings: OverviewSettings,
  ) {
    this.sync = new SyncMeta(db)
  }

  private readonly sync: SyncMeta

  async summary(): Promise<RegistrySummary> {
    const c = await this.browse.counts()
    const latest = await this.browse.latestPushes(this.settings.latestPushes)
    const upstreams = await this.sync.upstreams()
    return {
      version: this.settings.version,
      storage: this.settings.storage,
      ociNamespace: this.settings.ociNamespace,
      bytes: { blobs: c.blob_bytes, database: c.database_bytes, uploads: c.upload_bytes },
      counts: {
        packs: c.packs,
        versions: c.versions,
        repositories: c.repositories,
        ociRepositories: c.oci_repositories,
        manifests: c.manifests,
        tags: c.tags,
        blobs: c.blobs,
        uploads: c.uploads,
      },
      garbage: await this.garbage(),
      latestPushes: latest.map((e) => ({
        at: new Date(e.at).toISOString(),
        actor: e.actor,
        action: e.action,
        repository: e.repository,
        kind: e.is_pack === 1 ? 'pack' : e.is_oci === 1 ? 'oci' : 'deleted',
        tag: e.tag,
        oldDigest: e.old_digest,
        newDigest: e.new_digest,
        forced: e.forced === 1,
        message: e.message,
      })),
      mirrors: upstreams.flatMap((u) =>
        u.last === null
          ? []
          : [
              {
                upstream: u.upstream,
                at: new Date(u.last.at).toISOString(),
                ok: u.last.ok,
                lastSuccessAt: u.lastSuccessAt === null ? null : new Date(u.lastSuccessAt).toISOString(),
                packsCopied: u.last.packsCopied,
                bytesCopied: u.last.bytesCopied,
                conflicts: u.last.conflicts,
                refused: u.last.refused,
                failed: u.last.failed,
                error: u.last.error,
              },
            ],
      ),
      notifications: await this.settings.notifications(),
      replicas: (await this.settings.replicas()).map((r) => ({
        id: r.id,
        address: r.address,
        version: r.version,
        startedAt: new Date(r.started_at).toISOString(),
        lastSeen: new Date(r.last_seen).toISOString(),
        state: r.state,
        current: r.id === this.settings.replica,
      })),
    }
  }

  private async garbage(): Promise<RegistrySummary['garbage']> {
    const { summary } = await assessRecorded(this.db, Date.now(), DEFAULT_GRACE_MS)
    return { ...summary, lines: summaryLines(summary, 'removable now') }
  }
}
