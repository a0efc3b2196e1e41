// The periodic mirror (DESIGN §10): one run against one upstream lists its packs and tags, keeps
// the version tags the content rules select, and copies each through the same path a /v2 push
// takes: every blob not already here streams from the upstream into the blob intake, verified by
// its digest (and read as a pack archive on the way, as an upload is), is linked to the pack
// repository, and the manifest, byte for byte, goes through pack recognition, validation and
// the publish transaction, which computes the parent tags here; the version's referrers
// (signatures, SBOMs) follow as artifacts. A pack refused by validation is reported, not stored.
// Sync moves only tags it wrote from the same upstream (sync_origins); a tag pushed here, or
// mirrored from another upstream, is left alone and the conflict recorded. Nothing is ever
// deleted here because the upstream deleted it. A finished tag already points at the upstream's
// manifest, so an interrupted run that is started again only compares
// manifests until it reaches the work left. One tag's failure never stops the run; transient
// upstream failures are retried with a doubling delay. The same copy serves pull-through
// (fetchPack, for on-demand.ts).

import { isRegistryError } from '../errors.js'
import type { SyncRegistryConfig } from '../config/sync.js'
import type { BlobIntake } from '../blobs/intake.js'
import type { OciMeta } from '../meta/oci.js'
import type { PackMeta } from '../meta/packs.js'
import type { SyncMeta, SyncRunDetail } from '../meta/sync.js'
import { parseManifest } from '../oci/manifests.js'
import type { DistributionPushes } from '../packs/distribution-pushes.js'
import { packMayMatch, selectTag } from '../packs/sync-rules.js'
import type { BlobStore } from '../store/types.js'
import { Upstream, UpstreamError } from './upstream.js'

export type TagOutcome = 'copied' | 'would copy' | 'unchanged' | 'conflict' | 'refused' | 'failed'

export interface TagReport {
  pack: string
  tag: string
  outcome: TagOutcome
  /** The upstream's manifest digest, when it was read. */
  digest: string | null
  /** Why it was refused, failed or conflicts. */
  message: string | null
}

export interface SyncReport extends SyncRunDetail {
  tags: TagReport[]
}

export interface SyncProgress {
  upstream: string
  tagsDone: number
  tagsTotal: number
  blobsCopied: number
  bytesCopied: number
}

export interface RunOptions {
  dryRun: boolean
  /** Who runs it, as the event log records it (an operating-system user, or `packyard serve`). */
  actor: string
  onProgress?: (p: SyncProgress) => void
  env?: NodeJS.ProcessEnv
  /** Once aborted (the server is closing): no further listing, retry or tag is started, and the requests in progress are ended. */
  signal?: AbortSignal
}

export interface MirrorParts {
  packs: DistributionPushes
  packMeta: PackMeta
  ociMeta: OciMeta
  intake: BlobIntake
  store: BlobStore
  sync: SyncMeta
  /** limits.manifestsize: the read cap of an upstream's manifests, as of a pushed one. */
  manifestSize: number
}

export class Mirror {
  constructor(private readonly parts: MirrorParts) {}

  /** One run against one upstream; the run (not a dry run's) and each conflict go to the event log. */
  async run(config: SyncRegistryConfig, options: RunOptions): Promise<SyncReport> {
    const report = emptyReport(config, options.dryRun)
    try {
      const { signal } = options
      const upstream = new Upstream(config, this.parts.manifestSize, options.env, signal)
      const work: Array<{ pack: string; tag: string }> = []
      const packs = await retrying(config, signal, () => upstream.packs())
      for (const pack of packs.filter((p) => packMayMatch(config.content, p))) {
        if (signal?.aborted) throw new Error('stopped while listing the upstream\'s tags (the registry is closing); the next run starts again')
        let tags: string[]
        try {
          tags = await retrying(config, signal, () => upstream.tags(pack))
        } catch (err) {
          this.note(report, { pack, tag: '*', outcome: 'failed', digest: null, message: messageOf(err) })
          continue
        }
        for (const tag of tags) if (selectTag(config.content, pack, tag).selected) work.push({ pack, tag })
      }
      let done = 0
      const progress = () => options.onProgress?.({ upstream: report.upstream, tagsDone: done, tagsTotal: work.length, blobsCopied: report.blobsCopied, bytesCopied: report.bytesCopied })
      progress()
      await eachLimited(work, config.maxConcurrency, options.signal, async ({ pack, tag }) => {
        let item: TagReport
        try {
          item = await retrying(config, signal, () => this.copyTag(upstream, pack, tag, options, report))
        } catch (err) {
          item = { pack, tag, outcome: isRegistryError(err) && err.status < 500 ? 'refused' : 'failed', digest: null, message: messageOf(err) }
        }
        this.note(report, item)
        done++
        progress()
      })
      if (options.signal?.aborted && done < work.length) report.error = `stopped after ${done} of ${work.length} tags (the registry is closing); the next run goes on from there`
    } catch (err) {
      report.error = messageOf(err)
    }
    report.ok = report.error === null && report.failed === 0
    if (!options.dryRun) await this.parts.sync.recordRun(options.actor, runDetail(report))
    return report
  }

  /**
   * On demand: the tags of one pack that `wanted` asks for and the content rules allow, copied
   * now (no run event: each copy is its own create event). Throws when the upstream cannot list
   * the pack's tags; a pack the upstream does not have is an empty report.
   */
  async fetchPack(config: SyncRegistryConfig, pack: string, wanted: (tag: string) => boolean, actor: string, signal?: AbortSignal): Promise<SyncReport> {
    const report = emptyReport(config, false)
    const upstream = new Upstream(config, this.parts.manifestSize, process.env, signal)
    let tags: string[]
    try {
      tags = await retrying(config, signal, () => upstream.tags(pack))
    } catch (err) {
      if (err instanceof UpstreamError && err.status === 404) return report
      throw err
    }
    const work = tags.filter((tag) => wanted(tag) && selectTag(config.content, pack, tag).selected)
    await eachLimited(work, config.maxConcurrency, signal, async (tag) => {
      let item: TagReport
      try {
        item = await retrying(config, signal, () => this.copyTag(upstream, pack, tag, { dryRun: false, actor }, report))
      } catch (err) {
        item = { pack, tag, outcome: isRegistryError(err) && err.status < 500 ? 'refused' : 'failed', digest: null, message: messageOf(err) }
      }
      this.note(report, item)
    })
    report.ok = report.failed === 0
    return report
  }

  private note(report: SyncReport, item: TagReport): void {
    report.tags.push(item)
    if (item.outcome === 'copied' || item.outcome === 'would copy') report.packsCopied++
    else if (item.outcome === 'unchanged') report.tagsUnchanged++
    else if (item.outcome === 'conflict') report.conflicts++
    else if (item.outcome === 'refused') report.refused++
    else report.failed++
  }

  private async copyTag(upstream: Upstream, pack: string, tag: string, options: RunOptions, report: SyncReport): Promise<TagReport> {
    const { packs, packMeta, store, sync } = this.parts
    const remote = await upstream.manifest(pack, tag)
    const item = (outcome: TagOutcome, message: string | null = null): TagReport => ({ pack, tag, outcome, digest: remote.digest, message })
    const parsed = parseManifest(remote.body, remote.contentType)
    const repo = await packMeta.repoByName(pack)
    const local = repo ? await packMeta.tag(repo.id, tag) : undefined
    if (local?.manifest_digest === remote.digest) {
      if (!options.dryRun) await this.copyReferrers(upstream, pack, remote.digest, options.actor, report)
      return item('unchanged')
    }
    // Owned: written by sync from this very upstream. A tag another upstream wrote is that one's,
    // or two upstreams carrying the same pack would overwrite each other on every run.
    const origin = local !== undefined ? await sync.origin(pack, tag) : undefined
    const synced = origin !== undefined && origin.manifest_digest === local?.manifest_digest
    const owned = synced && origin.upstream === upstream.label
    const conflict = async (localDigest: string, owner: string | null = null) => {
      if (!options.dryRun) await sync.recordConflict(options.actor, pack, tag, localDigest, remote.digest, upstream.label, owner)
      const why = owner === null ? 'was not written by sync' : `was mirrored from ${owner}`
      return item('conflict', `${pack}:${tag} here ${why} (${localDigest}); the upstream has ${remote.digest}. Left as it is`)
    }
    if (local !== undefined && !owned) return await conflict(local.manifest_digest, synced ? origin.upstream : null)
    if (parsed.config === null) return item('refused', 'the upstream tag is an index, not a pack')

    const missing = []
    for (const blob of parsed.blobs) if ((await store.stat(blob.digest))?.size !== blob.size) missing.push(blob)
    if (options.dryRun) {
      report.bytesCopied += missing.reduce((sum, b) => sum + b.size, 0)
      report.blobsCopied += missing.length
      return item('would copy')
    }
    await this.copyBlobs(upstream, pack, parsed.blobs, missing, report)

    const held = await packs.holdReferences(pack, parsed)
    const manifest = { digest: remote.digest, mediaType: parsed.mediaType, artifactType: parsed.artifactType, content: remote.body, subjectDigest: parsed.subject?.digest ?? null, blobs: parsed.blobs, manifests: parsed.manifests }
    let received
    try {
      received = await packs.recognise(parsed, manifest, held)
    } catch (err) {
      await held.release()
      throw err
    }
    if (received === null) {
      await held.release()
      return item('refused', 'the upstream tag holds no pack (no pack.json in a tar.gz layer)')
    }
    const { pack: packJson, tag: versionTag } = received.checked
    if (packJson.name !== pack || versionTag !== tag) {
      await held.release()
      return item('refused', `pack.json says ${packJson.name}:${versionTag}, not ${pack}:${tag}`)
    }
    await sync.recordOrigin(pack, tag, upstream.label, remote.digest)
    try {
      await packs.commit(received, { force: owned, message: `mirrored from ${upstream.label}`, skipDigestCheck: true, strict: false, actor: options.actor })
    } catch (err) {
      if (isRegistryError(err) && err.code === 'TAG_EXISTS') {
        // Written meanwhile: by another copy of the same manifest (a pull through, a periodic
        // run), or by a push here, which wins.
        const now = await packMeta.repoByName(pack)
        const tagged = now ? await packMeta.tag(now.id, tag) : undefined
        if (tagged?.manifest_digest === remote.digest) return item('unchanged')
        return await conflict(tagged?.manifest_digest ?? String(err.detail?.digest ?? 'a pushed tag'))
      }
      throw err
    }
    await this.copyReferrers(upstream, pack, remote.digest, options.actor, report)
    return item('copied')
  }

  /** Each blob linked to the pack's repository; those in `missing` downloaded first, verified by digest. */
  private async copyBlobs(upstream: Upstream, pack: string, blobs: Array<{ digest: string; size: number }>, missing: Array<{ digest: string }>, report: SyncReport): Promise<void> {
    const { packs, ociMeta, intake } = this.parts
    for (const blob of blobs) {
      const lease = intake.newLease()
      try {
        if (missing.includes(blob)) {
          const download = await upstream.blob(pack, blob.digest)
          try {
            await intake.put(packs.watchUpload(download, blob.digest), lease, { digest: blob.digest, size: blob.size })
          } catch (err) {
            // Bytes that are not what the manifest names: the upstream's fault, not the pack's.
            if (isRegistryError(err) && (err.code === 'DIGEST_INVALID' || err.code === 'SIZE_INVALID')) {
              throw new UpstreamError(`${upstream.label}: the blob ${blob.digest} of ${pack} it sent does not match its digest (${err.message}); nothing of it was kept`, false)
            }
            throw err
          }
          report.blobsCopied++
          report.bytesCopied += blob.size
        } else {
          await lease.take([blob.digest])
        }
        await ociMeta.addBlob({ kind: 'pack', name: pack }, { digest: blob.digest, size: blob.size }, Date.now(), { leaseId: lease.id })
      } catch (err) {
        await lease.release()
        throw err
      }
    }
  }

  /**
   * The manifests the upstream lists as referring to `subject` (signatures, SBOMs) and that are
   * not here yet, byte for byte with their blobs, stored as artifacts of the pack.
   */
  private async copyReferrers(upstream: Upstream, pack: string, subject: string, actor: string, report: SyncReport): Promise<void> {
    const { packs, packMeta, store } = this.parts
    for (const referrer of await upstream.referrers(pack, subject)) {
      const repo = await packMeta.repoByName(pack)
      if (repo && (await packMeta.manifestId(repo.id, referrer.digest)) !== undefined) continue
      const remote = await upstream.manifest(pack, referrer.digest)
      if (remote.digest !== referrer.digest) throw new UpstreamError(`${upstream.label}: the referrer ${referrer.digest} of ${pack} came back as ${remote.digest}`, false)
      const parsed = parseManifest(remote.body, remote.contentType)
      if (parsed.subject?.digest !== subject) continue
      const missing = []
      for (const blob of parsed.blobs) if ((await store.stat(blob.digest))?.size !== blob.size) missing.push(blob)
      await this.copyBlobs(upstream, pack, parsed.blobs, missing, report)
      const lease = await packs.holdReferences(pack, parsed)
      const manifest = { digest: remote.digest, mediaType: parsed.mediaType, artifactType: parsed.artifactType, content: remote.body, subjectDigest: subject, blobs: parsed.blobs, manifests: parsed.manifests }
      await packs.commitArtifact(pack, { manifest, tag: null, lease, actor, message: `mirrored from ${upstream.label}` })
    }
  }
}

/** How runs, reports and the event log name an upstream. */
export function upstreamName(config: SyncRegistryConfig): string {
  return config.basePath === '' ? config.url : `${config.url}/${config.basePath}`
}

function emptyReport(config: SyncRegistryConfig, dryRun: boolean): SyncReport {
  return {
    upstream: upstreamName(config),
    dryRun,
    ok: true,
    startedAt: Date.now(),
    packsCopied: 0,
    tagsUnchanged: 0,
    blobsCopied: 0,
    bytesCopied: 0,
    conflicts: 0,
    refused: 0,
    failed: 0,
    error: null,
    tags: [],
  }
}

function runDetail(report: SyncReport): SyncRunDetail {
  const { tags: _tags, ...detail } = report
  return detail
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * `fn`, again after retryDelay, 2×, 4×... while it fails with a transient upstream error; once
 * `signal` is aborted, no wait goes on and no further attempt is made (the last error stands).
 */
async function retrying<T>(config: SyncRegistryConfig, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      if (!(err instanceof UpstreamError) || !err.transient || attempt >= config.retries || signal?.aborted) throw err
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer)
          signal?.removeEventListener('abort', done)
          resolve()
        }
        const timer = setTimeout(done, config.retryDelayMs * 2 ** attempt)
        signal?.addEventListener('abort', done, { once: true })
      })
      if (signal?.aborted) throw err
    }
  }
}

/** Runs `fn` on every item, at most `limit` at once, starting none once `signal` is aborted. */
async function eachLimited<T>(items: T[], limit: number, signal: AbortSignal | undefined, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length && signal?.aborted !== true) await fn(items[next++] as T)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
