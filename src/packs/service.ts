// The pack registry's domain operations: publish, tag, untag, delete, resolve. Every write does
// its async work first (stream the archive into the blob store while reading it, validate,
// store the small files) and then commits all metadata in ONE synchronous SQLite transaction:
// the version, the tag move, the recomputed parent tags and the event. A crash leaves the old
// state or the new one; blobs nobody references are left for garbage collection.

import { PassThrough, Readable } from 'node:stream'
import type { BlobIntake, Lease } from '../blobs/intake.js'
import { RegistryError } from '../errors.js'
import type { PackMeta, PackVersionRow, TagRow } from '../meta/packs.js'
import type { BlobInfo, BlobStore } from '../store/types.js'
import { type ArchiveLimits, type PackArchive, readPackArchive } from './archive-read.js'
import { archiveFileName, EMPTY_CONFIG, type PackManifest, packManifest } from './oras-manifest.js'
import { checkPackFiles, type PackJson, parsePackJson } from './pack-json.js'
import { computeParentTags, type ParentTag, parentTagsOf } from './parent-tags.js'
import { normalizeGroup, parseTag, validateUserTag, versionTagFor } from './tags.js'
import { parseVersion } from './versions.js'
import { type PackViews, parentTagsFor, type TagView } from './views.js'

/** What the pack service is told by the config, and nothing more. */
export interface PackSettings {
  archive: ArchiveLimits
  deleteEnabled: boolean
}

export interface PublishOptions {
  force: boolean
  message: string | null
  skipDigestCheck: boolean
  actor: string
}

export type PublishStatus = 'created' | 'updated' | 'unchanged'

export interface PublishResult {
  name: string
  version: string
  group: string | null
  tag: string
  digest: string
  manifestDigest: string
  contentDigest: string
  status: PublishStatus
  previousDigest?: string
  parentTags: string[]
}

/**
 * A validated pack whose bytes are all in the blob store, ready to be committed. The lease
 * keeps garbage collection off its blobs until commit() records them (or releases it).
 */
export interface ReceivedPack {
  lease: Lease
  pack: PackJson
  group: string | null
  tag: string
  archive: PackArchive
  files: Record<string, BlobInfo>
  manifest: PackManifest
}

export class PackService {
  constructor(
    private readonly store: BlobStore,
    private readonly intake: BlobIntake,
    private readonly meta: PackMeta,
    private readonly views: PackViews,
    private readonly settings: PackSettings,
  ) {}

  /** Refuses force without a message before any byte of the archive is read. */
  static checkForceMessage(options: Pick<PublishOptions, 'force' | 'message'>): void {
    if (options.force && !options.message?.trim()) {
      throw new RegistryError('MESSAGE_REQUIRED', 'a forced push needs a message saying what changed (spectro/packyard pack push -f -m "...")')
    }
  }

  async publish(upload: Readable, options: PublishOptions): Promise<PublishResult> {
    PackService.checkForceMessage(options)
    const received = await this.receive(upload)
    return this.commit(received, options)
  }

  /** One streaming pass: the upload goes to the blob store and the archive reader at once. */
  async receive(upload: Readable): Promise<ReceivedPack> {
    const lease = this.intake.newLease()
    try {
      const { stored, archive } = await this.storeWhileReading(upload, lease)
      if (stored.digest !== archive.archiveDigest) {
        throw new RegistryError('INTERNAL', 'the stored archive and the read archive differ')
      }
      return await this.validateAndStoreFiles(archive, lease)
    } catch (err) {
      lease.release()
      throw err
    }
  }

  /**
   * Leases the blobs a manifest pushed over /v2 names, then checks that each is in the pack's
   * repository with the size the manifest declares (a client verifying sizes could not pull
   * it otherwise). The lease goes to receiveStored and ends with the commit.
   */
  async holdManifestBlobs(name: string, blobs: Array<{ digest: string; size: number }>): Promise<Lease> {
    const lease = this.intake.newLease()
    lease.take(blobs.map((b) => b.digest))
    try {
      const repo = this.meta.repoByName(name)
      for (const [i, blob] of blobs.entries()) {
        const size = repo ? this.meta.repoBlobSize(repo.id, blob.digest) : null
        if (size === null || !(await this.store.stat(blob.digest))) {
          throw new RegistryError('MANIFEST_BLOB_UNKNOWN', `blob ${blob.digest} is not in ${name}; push it first`, { digest: blob.digest })
        }
        if (size !== blob.size) {
          throw new RegistryError('MANIFEST_INVALID', `manifest invalid: ${i === 0 ? 'the config' : `layer ${i - 1}`} declares ${blob.digest} as ${blob.size} bytes, but it has ${size}`, {
            digest: blob.digest,
            declaredSize: blob.size,
            actualSize: size,
          })
        }
      }
    } catch (err) {
      lease.release()
      throw err
    }
    return lease
  }

  /**
   * For an archive already in the blob store (a pack pushed over /v2); `lease` already holds
   * the manifest's blobs and takes the pack's files too.
   */
  async receiveStored(digest: string, lease: Lease): Promise<ReceivedPack> {
    const archive = await readPackArchive(await this.store.open(digest), this.settings.archive)
    return this.validateAndStoreFiles(archive, lease)
  }

  private async storeWhileReading(upload: Readable, lease: Lease): Promise<{ stored: BlobInfo; archive: PackArchive }> {
    const toStore = new PassThrough({ highWaterMark: 1 << 20 })
    const toReader = new PassThrough({ highWaterMark: 1 << 20 })
    let failed = false
    const fail = (err: Error) => {
      if (failed) return
      failed = true
      // Stop both consumers, then drain what the client still sends so it can read our answer.
      upload.unpipe(toStore)
      upload.unpipe(toReader)
      toStore.destroy(err)
      toReader.destroy(err)
      upload.resume()
    }
    upload.on('error', fail)
    upload.pipe(toStore)
    upload.pipe(toReader)
    const storing = this.intake.put(toStore, lease)
    const reading = readPackArchive(toReader, this.settings.archive)
    let firstError: unknown = null
    const note = (err: unknown) => {
      firstError ??= err
      fail(err as Error)
      throw err
    }
    const [stored, archive] = await Promise.allSettled([storing.catch(note), reading.catch(note)])
    upload.off('error', fail)
    if (stored.status === 'rejected' || archive.status === 'rejected') throw firstError
    return { stored: stored.value, archive: archive.value }
  }

  private async validateAndStoreFiles(archive: PackArchive, lease: Lease): Promise<ReceivedPack> {
    const packJsonBytes = archive.extracted.get('pack.json')
    if (!packJsonBytes) throw new RegistryError('PACK_INVALID', 'pack.json is missing from the archive', { file: 'pack.json', field: null })
    const pack = parsePackJson(packJsonBytes.toString('utf8'))
    checkPackFiles(pack, new Set(archive.files.map((f) => f.path)))
    const group = normalizeGroup(pack.group)
    const tag = versionTagFor(group, pack.version)
    const names = [...archive.extracted.keys()]
    const staged = await Promise.all([...archive.extracted.values(), EMPTY_CONFIG].map((data) => this.store.stage(Readable.from([data]))))
    const placed = await this.intake.placeAll(staged, lease)
    const files: Record<string, BlobInfo> = {}
    names.forEach((name, i) => (files[name] = placed[i] as BlobInfo))
    const manifest = packManifest({ digest: archive.archiveDigest, size: archive.archiveSize }, archiveFileName(pack.name, pack.version))
    return { lease, pack, group, tag, archive, files, manifest }
  }

  /** The synchronous half of a publish: one transaction, or nothing. The lease ends either way. */
  commit(r: ReceivedPack, options: PublishOptions, aliasTag?: string): PublishResult {
    try {
      return this.commitOnce(r, options, aliasTag)
    } catch (err) {
      r.lease.release()
      throw err
    }
  }

  private commitOnce(r: ReceivedPack, options: PublishOptions, aliasTag?: string): PublishResult {
    PackService.checkForceMessage(options)
    const name = r.pack.name
    const now = Date.now()
    return this.meta.transaction(() => {
      this.meta.releaseLease(r.lease.id)
      const repo = this.meta.repoByName(name)
      const existing = repo ? this.meta.tag(repo.id, r.tag) : undefined
      let previous: PackVersionRow | undefined
      if (existing) {
        if (!options.force) {
          throw new RegistryError('TAG_EXISTS', `${name}:${r.tag} already exists; push with --force and --message to replace it`, {
            tag: r.tag,
            digest: existing.archive_digest,
          })
        }
        previous = this.meta.version(existing.manifest_id) as PackVersionRow
        if (!options.skipDigestCheck && previous.content_digest === r.archive.contentDigest) {
          return this.result((repo as { id: number }).id, r, previous, 'unchanged')
        }
      }
      const repoId = this.meta.ensureRepo(name, now)
      const manifestId = this.insertVersion(repoId, r, options, now)
      const seq = this.meta.nextSeq()
      if (existing) {
        this.meta.moveTag(existing.id, manifestId, seq, now)
      } else {
        this.meta.insertTag(repoId, { name: r.tag, group: r.group, label: parseTag(r.tag).label, kind: 'version' }, manifestId, seq, now)
      }
      if (aliasTag !== undefined && aliasTag !== r.tag) this.setAlias(repoId, aliasTag, manifestId, now)
      this.recomputeParentTags(repoId, now)
      if (existing && existing.manifest_id !== manifestId) this.dropIfUntagged(existing.manifest_id)
      this.meta.appendEvent({
        at: now,
        actor: options.actor,
        action: existing ? 'update' : 'create',
        repository: name,
        tag: r.tag,
        oldDigest: previous?.archive_digest ?? null,
        newDigest: r.archive.archiveDigest,
        forced: options.force && existing !== undefined,
        message: options.message,
      })
      return this.result(repoId, r, this.meta.version(manifestId) as PackVersionRow, existing ? 'updated' : 'created', previous?.archive_digest)
    })
  }

  private insertVersion(repoId: number, r: ReceivedPack, options: PublishOptions, now: number): number {
    const known = this.meta.manifestId(repoId, r.manifest.digest)
    for (const blob of [...r.manifest.blobs, ...Object.values(r.files)]) this.meta.recordBlob(repoId, blob.digest, blob.size, now)
    if (known !== undefined) return known
    const manifestId = this.meta.insertManifest(repoId, r.manifest, now)
    this.meta.insertVersion({
      manifestId,
      repositoryId: repoId,
      version: r.pack.version,
      group: r.group,
      displayName: r.pack.displayName,
      layer: r.pack.layer,
      packJson: JSON.stringify(r.pack),
      archiveDigest: r.archive.archiveDigest,
      archiveSize: r.archive.archiveSize,
      contentDigest: r.archive.contentDigest,
      unpackedSize: r.archive.unpackedSize,
      files: JSON.stringify(r.files),
      pushedAt: now,
      pushedBy: options.actor,
      message: options.message,
    })
    return manifestId
  }

  /** A /v2 push by a tag other than the version tag also keeps that tag (e.g. `latest`). */
  private setAlias(repoId: number, tag: string, manifestId: number, now: number): void {
    const parsed = validateUserTag(tag)
    const current = this.meta.tag(repoId, tag)
    const seq = this.meta.nextSeq()
    if (current) {
      this.meta.moveTag(current.id, manifestId, seq, now)
      this.dropIfUntagged(current.manifest_id)
    } else {
      this.meta.insertTag(repoId, { ...parsed, name: tag, kind: parseVersion(parsed.label) ? 'version' : 'alias' }, manifestId, seq, now)
    }
  }

  /**
   * Makes the stored parent tags equal to what the rules compute from the version tags: new
   * ones created, moved ones re-linked, empty ones deleted. Runs inside every tag change.
   */
  private recomputeParentTags(repoId: number, now: number): ParentTag[] {
    const tags = this.meta.tagsOf(repoId)
    const byName = new Map(tags.map((t) => [t.name, t]))
    const wanted = computeParentTags(
      tags.filter((t) => t.kind === 'version').map((t) => ({ tag: t.name, group: t.group_name, label: t.label, seq: t.seq })),
    )
    const wantedNames = new Set(wanted.map((w) => w.tag))
    for (const w of wanted) {
      const target = byName.get(w.target) as TagRow
      const current = byName.get(w.tag)
      if (!current) {
        this.meta.insertTag(repoId, { name: w.tag, group: w.group, label: w.label, kind: 'parent' }, target.manifest_id, this.meta.nextSeq(), now)
      } else if (current.manifest_id !== target.manifest_id) {
        this.meta.moveTag(current.id, target.manifest_id, this.meta.nextSeq(), now)
      }
    }
    for (const t of tags) if (t.kind === 'parent' && !wantedNames.has(t.name)) this.meta.deleteTag(t.id)
    return wanted
  }

  /** A version no user tag points at is no longer part of the pack. */
  private dropIfUntagged(manifestId: number): void {
    if (this.meta.userTagCount(manifestId) === 0) this.meta.deleteManifest(manifestId)
  }

  private result(repoId: number, r: ReceivedPack, version: PackVersionRow, status: PublishStatus, previousDigest?: string): PublishResult {
    const parents = parentTagsFor(this.meta.tagsOf(repoId))
    return {
      name: r.pack.name,
      version: r.pack.version,
      group: r.group,
      tag: r.tag,
      digest: version.archive_digest,
      manifestDigest: version.manifest_digest,
      contentDigest: version.content_digest,
      status,
      ...(previousDigest !== undefined ? { previousDigest } : {}),
      parentTags: parentTagsOf(r.tag, parents),
    }
  }

  /** Whether every one of `tags` already points at the manifest `manifestDigest`. */
  alreadyTagged(name: string, tags: string[], manifestDigest: string): boolean {
    const repo = this.meta.repoByName(name)
    return repo !== undefined && tags.every((tag) => this.meta.tag(repo.id, tag)?.manifest_digest === manifestDigest)
  }

  // ---- tags and deletes -------------------------------------------------------------------

  addTag(name: string, tag: string, ref: string, actor: string): { status: 'created' | 'unchanged'; tag: TagView } {
    const parsed = validateUserTag(tag)
    const { repoId, version } = this.views.resolve(name, ref)
    const now = Date.now()
    const status = this.meta.transaction(() => {
      const current = this.meta.tag(repoId, tag)
      if (current) {
        if (current.manifest_id === version.manifest_id) return 'unchanged' as const
        throw new RegistryError('TAG_EXISTS', `${name}:${tag} already points at version ${current.version} (${current.archive_digest}); delete it first to move it`, {
          tag,
          digest: current.archive_digest,
        })
      }
      this.meta.insertTag(repoId, { ...parsed, name: tag, kind: parseVersion(parsed.label) ? 'version' : 'alias' }, version.manifest_id, this.meta.nextSeq(), now)
      this.recomputeParentTags(repoId, now)
      this.meta.touchRepo(repoId, now)
      this.meta.appendEvent({ at: now, actor, action: 'tag', repository: name, tag, oldDigest: null, newDigest: version.archive_digest, forced: false, message: null })
      return 'created' as const
    })
    return { status, tag: this.views.tag(name, tag) }
  }

  deleteTag(name: string, tag: string, actor: string): TagRow {
    this.requireDeletes()
    const parsed = parseTag(tag)
    const repoId = this.views.repoId(name)
    const now = Date.now()
    return this.meta.transaction(() => {
      const current = this.meta.tag(repoId, tag)
      if (!current) throw new RegistryError('TAG_UNKNOWN', `${name} has no tag ${tag}`, { name, tag })
      if (current.kind === 'parent') {
        throw new RegistryError('TAG_PROTECTED', `${tag} is a parent tag managed by the registry: it follows the highest ${parsed.label} version and goes away with the last one`, { tag })
      }
      this.meta.deleteTag(current.id)
      this.recomputeParentTags(repoId, now)
      this.dropIfUntagged(current.manifest_id)
      if (!this.meta.deleteRepoIfEmpty(repoId)) this.meta.touchRepo(repoId, now)
      this.meta.appendEvent({ at: now, actor, action: 'untag', repository: name, tag, oldDigest: current.archive_digest, newDigest: null, forced: false, message: null })
      return current
    })
  }

  /**
   * Deletes a version named by its version tag or a digest. A parent tag or an alias moves
   * (or may be moved by someone else), so a destructive call refuses them and names the
   * version tag to use instead.
   */
  deleteVersion(name: string, ref: string, actor: string): { version: PackVersionRow; tags: string[] } {
    this.requireDeletes()
    const { repoId, version, tag } = this.views.resolve(name, ref)
    if (tag !== null) {
      if (tag.kind !== 'version') {
        const versionTag = this.meta.tagsOf(repoId).find((t) => t.manifest_id === tag.manifest_id && t.kind === 'version')?.name ?? version.version
        const what = tag.kind === 'parent' ? 'a parent tag, which follows the highest version' : 'an alias, which can be moved'
        throw new RegistryError(
          'BAD_REQUEST',
          `${name}:${ref} is ${what}; to delete the version it points at now, name it by its version tag ${versionTag} (or its digest ${version.archive_digest})`,
          { tag: ref, kind: tag.kind, versionTag, digest: version.archive_digest },
        )
      }
    }
    const now = Date.now()
    return this.meta.transaction(() => {
      const tags = this.meta.tagsOf(repoId).filter((t) => t.manifest_id === version.manifest_id && t.kind !== 'parent').map((t) => t.name)
      this.meta.deleteUserTagsOf(version.manifest_id)
      this.recomputeParentTags(repoId, now)
      this.meta.deleteManifest(version.manifest_id)
      if (!this.meta.deleteRepoIfEmpty(repoId)) this.meta.touchRepo(repoId, now)
      this.meta.appendEvent({ at: now, actor, action: 'delete', repository: name, tag: tags[0] ?? null, oldDigest: version.archive_digest, newDigest: null, forced: false, message: tags.join(',') })
      return { version, tags }
    })
  }

  private requireDeletes(): void {
    if (!this.settings.deleteEnabled) {
      throw new RegistryError('UNSUPPORTED', 'deleting is disabled on this registry (storage.delete.enabled is false)')
    }
  }
}
