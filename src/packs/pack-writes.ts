// The write rules every pack write shares, whichever surface asks (/v1/_packs, a distribution
// client's push, the mirror): the one publish transaction, tag writes, parent-tag recomputation,
// settle (untagged versions go, stored tag views and the pack's header follow), tag and manifest
// deletes, and the events they send. Every write does its async work first (stream the archive
// into the blob store while reading it, validate, store the small files: pack-receiving.ts) and
// then commits all metadata in ONE transaction, whose body does database work only: the manifest,
// the version, the tag moves, the recomputed parent tags and the event. A crash leaves the old
// state or the new one; the blobs are leased until that commit.
//
// Tag rules are the same whatever the manifest: a tag named `[group__]version` is a version tag
// and gets parent tags (`M.x`, `M.m.x`), which clients can never write or delete.

import type { Lease } from '../blobs/intake.js'
import { type ErrorCode, RegistryError } from '../errors.js'
import type { NewManifest } from '../meta/manifests.js'
import type { PackMeta, PackVersionRow, TagRow } from '../meta/packs.js'
import type { PackEventDetail } from '../meta/outbox.js'
import type { BlobInfo } from '../store/types.js'
import type { PackArchive } from './archive-read.js'
import { type CheckedPack, type PackProblem, warningsRefused } from './pack-json.js'
import { computeParentTags } from './parent-tags.js'
import { formatTag, isParentLabel, parseTag } from './tags.js'
import { readmeText, searchDocument } from './search.js'
import { parseVersion } from './versions.js'
import { type PackViews, tagView } from './views.js'

/** What the write rules are told by the config. */
export interface WriteSettings {
  deleteEnabled: boolean
  /** packs.validation: strict — validation warnings refuse a push. */
  strictValidation: boolean
}

export interface PublishOptions {
  force: boolean
  message: string | null
  skipDigestCheck: boolean
  /** This push asks for strict validation (pack push --strict). */
  strict: boolean
  actor: string
}

export type PublishStatus = 'created' | 'updated' | 'unchanged'

/** A parent tag a write created or moved: the version tags it followed and now follows. */
export interface ParentTagMove {
  tag: string
  /** null: the parent tag is new */
  from: string | null
  to: string
}

export interface PublishResult {
  name: string
  version: string
  group: string | null
  tag: string
  digest: string
  /** Bytes of the archive. */
  size: number
  manifestDigest: string
  contentDigest: string
  status: PublishStatus
  previousDigest?: string
  parentTags: string[]
  /** The parent tags this push created or moved (none when unchanged). */
  parentTagsMoved: ParentTagMove[]
  warnings: PackProblem[]
}

/**
 * A validated pack whose bytes are all in the blob store, ready to be committed. The lease
 * keeps garbage collection off its blobs until commit() records them (or releases it).
 */
export interface ReceivedPack {
  lease: Lease
  checked: CheckedPack
  archive: PackArchive
  files: Record<string, BlobInfo>
  /** The manifest the version has on the distribution surfaces. */
  manifest: NewManifest
}

/** How a write that targets a parent tag is refused: the code of the surface asking. */
export type ParentTagCode = Extract<ErrorCode, 'TAG_PROTECTED' | 'DENIED'>

export function parentTagRefused(tag: string, code: ParentTagCode): RegistryError {
  return new RegistryError(
    code,
    `${tag} is a parent tag managed by the registry: parent tags (M.x, M.m.x, per group) follow the highest version under them; they cannot be pushed, moved or deleted`,
    { tag },
  )
}

export class PackWrites {
  constructor(
    private readonly meta: PackMeta,
    private readonly views: PackViews,
    private readonly settings: WriteSettings,
  ) {}

  /** Refuses force without a message before any byte of the archive is read. */
  static checkForceMessage(options: Pick<PublishOptions, 'force' | 'message'>): void {
    if (options.force && !options.message?.trim()) {
      throw new RegistryError('MESSAGE_REQUIRED', 'a forced push needs a message saying what changed (spectro/packyard pack push -f -m "...")')
    }
  }

  /** The metadata half of a publish: one transaction, or nothing. The lease ends either way. */
  async commit(r: ReceivedPack, options: PublishOptions, aliasTag?: string): Promise<PublishResult> {
    try {
      if ((options.strict || this.settings.strictValidation) && r.checked.warnings.length > 0) throw warningsRefused(r.checked.warnings)
      return await this.commitOnce(r, options, aliasTag)
    } catch (err) {
      await r.lease.release()
      throw err
    }
  }

  private async commitOnce(r: ReceivedPack, options: PublishOptions, aliasTag?: string): Promise<PublishResult> {
    PackWrites.checkForceMessage(options)
    const { pack, tag } = r.checked
    const name = pack.name
    const now = Date.now()
    return await this.meta.transaction(async () => {
      await this.meta.releaseLease(r.lease.id)
      const repo = await this.meta.repoByName(name)
      const existing = repo ? await this.meta.tag(repo.id, tag) : undefined
      let previousDigest: string | undefined
      if (repo && existing) {
        if (!options.force) {
          throw new RegistryError('TAG_EXISTS', `${name}:${tag} already exists; push with --force and --message to replace it`, {
            tag,
            digest: existing.archive_digest ?? existing.manifest_digest,
          })
        }
        previousDigest = existing.archive_digest ?? existing.manifest_digest
        const previous = await this.meta.version(existing.manifest_id)
        if (previous && !options.skipDigestCheck && previous.content_digest === r.archive.contentDigest) {
          await this.notifyPackPush(r, options, [], false, aliasTag)
          return await this.result(repo.id, r, previous, 'unchanged', [])
        }
      }
      const repoId = await this.meta.ensureRepo(name, now)
      const manifestId = await this.insertVersion(repoId, r, options, now)
      const changes = new TagChanges()
      await this.writeTag(repoId, tag, manifestId, now, changes)
      if (aliasTag !== undefined && aliasTag !== tag) await this.writeTag(repoId, aliasTag, manifestId, now, changes)
      const moved = await this.settle(repoId, changes, now)
      await this.meta.appendEvent({
        at: now,
        actor: options.actor,
        action: existing ? 'update' : 'create',
        repository: name,
        tag,
        oldDigest: previousDigest ?? null,
        newDigest: r.archive.archiveDigest,
        forced: options.force && existing !== undefined,
        message: options.message,
      })
      await this.notifyPackPush(r, options, moved, options.force && existing !== undefined, aliasTag)
      await this.notifyDropped(name, options.actor, changes)
      return await this.result(repoId, r, (await this.meta.version(manifestId)) as PackVersionRow, existing ? 'updated' : 'created', moved, previousDigest)
    })
  }

  /**
   * A pack push's event: the manifest a distribution client would have pushed, and the pack.
   * target.tag is the tag the client pushed (`latest`: aliasTag), else the version tag;
   * pack.tag is always the version tag.
   */
  async notifyPackPush(r: ReceivedPack, options: { actor: string; message: string | null }, moved: ParentTagMove[], forced: boolean, aliasTag?: string): Promise<void> {
    const { checked, manifest } = r
    await this.meta.notify({
      action: 'push',
      actor: options.actor,
      repository: { kind: 'pack', name: checked.pack.name },
      mediaType: manifest.mediaType,
      size: manifest.content.length,
      digest: manifest.digest,
      tag: aliasTag ?? checked.tag,
      references: [...manifest.blobs, ...manifest.manifests].map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
      pack: {
        name: checked.pack.name,
        version: checked.pack.version,
        tag: checked.tag,
        group: checked.group,
        parentTags: moved,
        forced,
        message: options.message,
        warnings: checked.warnings.map((w) => ({ file: w.file, field: w.field, message: w.message })),
      },
    })
  }

  /** A pack repository's manifest event: a tag added or deleted, a version or artifact deleted. */
  async notifyManifest(action: 'push' | 'delete', name: string, manifestId: number, actor: string, tag: string | null, pack?: PackEventDetail): Promise<void> {
    const manifest = await this.meta.manifestDescriptor(manifestId)
    if (manifest) await this.notifyDescriptor(action, name, manifest, actor, tag, pack)
  }

  /** notifyManifest() for a manifest read before the transaction removed it. */
  private async notifyDescriptor(action: 'push' | 'delete', name: string, manifest: ManifestDescriptor, actor: string, tag: string | null, pack?: PackEventDetail): Promise<void> {
    await this.meta.notify({ action, actor, repository: { kind: 'pack', name }, mediaType: manifest.mediaType, size: manifest.size, digest: manifest.digest, tag, ...(pack ? { pack } : {}) })
  }

  /**
   * The versions settle() removed as untagged: a manifest delete each (no tag), as distribution
   * sends when a manifest is deleted, after the event of the change that left them untagged.
   */
  async notifyDropped(name: string, actor: string, changes: TagChanges): Promise<void> {
    for (const manifest of changes.dropped) await this.notifyDescriptor('delete', name, manifest, actor, null)
  }

  private async insertVersion(repoId: number, r: ReceivedPack, options: PublishOptions, now: number): Promise<number> {
    const known = await this.meta.manifestId(repoId, r.manifest.digest)
    // The archive is one of the manifest's blobs, except for a pack pushed as files, whose
    // archive the registry built: it is recorded here like the rest.
    const archive = { digest: r.archive.archiveDigest, size: r.archive.archiveSize }
    await this.meta.recordBlobs(repoId, [...r.manifest.blobs, ...Object.values(r.files), archive], now)
    if (known !== undefined && (await this.meta.isPackVersion(known))) return known
    const manifestId = known ?? (await this.meta.insertManifest(repoId, r.manifest, now))
    const { checked } = r
    const readme = r.archive.extracted.get('README.md')
    await this.meta.insertVersion({
      manifestId,
      repositoryId: repoId,
      version: checked.pack.version,
      group: checked.group,
      displayName: checked.displayName,
      layer: checked.layer,
      packJson: JSON.stringify(checked.pack),
      archiveDigest: r.archive.archiveDigest,
      archiveSize: r.archive.archiveSize,
      contentDigest: r.archive.contentDigest,
      unpackedSize: r.archive.unpackedSize,
      files: JSON.stringify(r.files),
      pushedAt: now,
      pushedBy: options.actor,
      message: options.message,
      warnings: JSON.stringify(checked.warnings),
      readme: readme === undefined ? null : readmeText(readme),
    })
    return manifestId
  }

  /**
   * Points `tag` at `manifestId` (creating or moving it) and notes what must follow. Its kind
   * follows its name: a label that is a version makes a version tag (with parent tags on its
   * line), anything else an alias.
   */
  async writeTag(repoId: number, tag: string, manifestId: number, now: number, changes: TagChanges): Promise<void> {
    const current = await this.meta.tag(repoId, tag)
    if (current?.manifest_id === manifestId) return
    const parsed = tagParts(tag)
    const version = parseVersion(parsed.label)
    const line = version ? String(version.major) : null
    if (line !== null) changes.line(parsed.group, line)
    changes.views.add(tag)
    if (current) {
      await this.meta.moveTag(current.id, manifestId, now)
      changes.left.push(current.manifest_id)
      return
    }
    await this.meta.insertTag(repoId, { name: tag, group: parsed.group, label: parsed.label, kind: version ? 'version' : 'alias', line, target: null }, manifestId, now)
  }

  /** Notes that a tag is going: its line's parent tags follow. */
  private noteRemoved(row: Pick<TagRow, 'kind' | 'group_name' | 'line'>, changes: TagChanges): void {
    if (row.kind === 'version' && row.line !== null) changes.line(row.group_name, row.line)
  }

  /**
   * At the end of every transaction that changed tags: the parent tags of the touched lines
   * follow, versions the moves left untagged go, the touched tags' stored views and the pack's
   * header are rewritten. Costs what the change touched, not what the pack holds.
   */
  async settle(repoId: number, changes: TagChanges, now: number, record?: ParentTagRecorder): Promise<ParentTagMove[]> {
    const moved: ParentTagMove[] = []
    for (const { group, line } of changes.lines.values()) moved.push(...await this.recomputeLine(repoId, group, line, now, changes, record))
    for (const manifestId of changes.left) await this.dropIfUntagged(manifestId, changes)
    await this.renderViews(repoId, [...changes.views])
    await this.relist(repoId)
    return moved
  }

  /**
   * Makes the stored parent tags of one (group, major) line equal to what the rules compute
   * from its version tags on pack versions: new ones created, moved ones re-linked, empty ones
   * deleted. Parent tags only ever point at pack versions, never at artifacts.
   */
  private async recomputeLine(repoId: number, group: string | null, line: string, now: number, changes: TagChanges, record?: ParentTagRecorder): Promise<ParentTagMove[]> {
    const tags = await this.meta.tagsOfLine(repoId, group, line)
    const byName = new Map(tags.map((t) => [t.name, t]))
    const wanted = computeParentTags(
      tags.filter((t) => t.kind === 'version' && t.archive_digest !== null).map((t) => ({ tag: t.name, group: t.group_name, label: t.label, seq: t.seq })),
    )
    const wantedNames = new Set(wanted.map((w) => w.tag))
    const moved: ParentTagMove[] = []
    for (const w of wanted) {
      const target = byName.get(w.target) as TagRow
      const current = byName.get(w.tag)
      if (current && current.target === w.target && current.manifest_id === target.manifest_id) continue
      if (current) {
        await this.meta.moveTag(current.id, target.manifest_id, now, w.target)
        if (current.target !== null) changes.views.add(current.target)
        if (current.manifest_id !== target.manifest_id) await record?.(current, target)
      } else {
        await this.meta.insertTag(repoId, { name: w.tag, group: w.group, label: w.label, kind: 'parent', line, target: w.target }, target.manifest_id, now)
      }
      changes.views.add(w.tag)
      changes.views.add(w.target)
      if (current?.target !== w.target) moved.push({ tag: w.tag, from: current?.target ?? null, to: w.target })
    }
    for (const t of tags) {
      if (t.kind !== 'parent' || wantedNames.has(t.name)) continue
      await this.meta.deleteTag(t.id)
      if (t.target !== null) changes.views.add(t.target)
    }
    return moved
  }

  /** Stores the tags' views as the API shows them (a tag deleted meanwhile has none to store), in three statements. */
  private async renderViews(repoId: number, names: string[]): Promise<void> {
    if (names.length === 0) return
    const rows = await this.meta.tagsNamed(repoId, names)
    const versions = rows.filter((row) => row.kind === 'version').map((row) => row.name)
    const following = versions.length > 0 ? await this.meta.parentsFollowingEach(repoId, versions) : new Map<string, string[]>()
    await this.meta.setViews(rows.map((row) => [row.id, JSON.stringify(tagView(row, row.kind === 'version' ? (following.get(row.name) ?? []) : []))]))
  }

  /** A pack version no user tag points at is no longer part of the pack; an artifact stays. */
  private async dropIfUntagged(manifestId: number, changes: TagChanges): Promise<void> {
    if (!(await this.meta.isPackVersion(manifestId)) || (await this.meta.userTagCount(manifestId)) !== 0) return
    const manifest = await this.meta.manifestDescriptor(manifestId)
    if (manifest) changes.dropped.push(manifest)
    await this.meta.deleteManifest(manifestId)
  }

  private async result(repoId: number, r: ReceivedPack, version: PackVersionRow, status: PublishStatus, moved: ParentTagMove[], previousDigest?: string): Promise<PublishResult> {
    const { pack, group, tag, warnings } = r.checked
    return {
      name: pack.name,
      version: pack.version,
      group,
      tag,
      digest: version.archive_digest,
      size: version.archive_size,
      manifestDigest: version.manifest_digest,
      contentDigest: version.content_digest,
      status,
      ...(previousDigest !== undefined ? { previousDigest } : {}),
      parentTags: await this.meta.parentsFollowing(repoId, tag),
      parentTagsMoved: moved,
      warnings,
    }
  }

  /** Deletes a tag (never a parent tag: `parentCode` says how the asking surface refuses it). */
  async deleteTag(name: string, tag: string, actor: string, parentCode: ParentTagCode = 'TAG_PROTECTED'): Promise<TagRow> {
    this.requireDeletes()
    if (isParentLabel(tagParts(tag).label)) throw parentTagRefused(tag, parentCode)
    const now = Date.now()
    return await this.meta.transaction(async () => {
      const repoId = await this.views.repoId(name)
      const current = await this.meta.tag(repoId, tag)
      if (!current) throw new RegistryError('TAG_UNKNOWN', `${name} has no tag ${tag}`, { name, tag })
      if (current.kind === 'parent') throw parentTagRefused(tag, parentCode)
      // Read before the manifest may go with its last tag.
      const manifest = await this.meta.manifestDescriptor(current.manifest_id)
      const version = await this.meta.version(current.manifest_id)
      await this.meta.deleteTag(current.id)
      const changes = new TagChanges()
      this.noteRemoved(current, changes)
      changes.left.push(current.manifest_id)
      const moved = await this.settleAfterRemoval(repoId, changes, now)
      if (manifest) await this.notifyDescriptor('delete', name, manifest, actor, tag, version && packDetail(name, version, formatTag(version.group_name, version.version), moved))
      await this.notifyDropped(name, actor, changes)
      const digest = current.archive_digest ?? current.manifest_digest
      await this.meta.appendEvent({ at: now, actor, action: 'untag', repository: name, tag, oldDigest: digest, newDigest: null, forced: false, message: null })
      return current
    })
  }

  async deleteManifestAndTags(name: string, repoId: number, manifestId: number, digest: string, actor: string): Promise<string[]> {
    const now = Date.now()
    return await this.meta.transaction(async () => {
      const rows = (await this.meta.tagRowsOfManifest(manifestId)).filter((t) => t.kind !== 'parent')
      const version = await this.meta.version(manifestId)
      const manifest = await this.meta.manifestDescriptor(manifestId)
      const changes = new TagChanges()
      for (const row of rows) this.noteRemoved(row, changes)
      await this.meta.deleteUserTagsOf(manifestId)
      // Parent tags on the manifest follow their lines to what remains before it goes.
      const moved: ParentTagMove[] = []
      for (const { group, line } of changes.lines.values()) moved.push(...await this.recomputeLine(repoId, group, line, now, changes))
      changes.lines.clear()
      await this.meta.deleteManifest(manifestId)
      const tags = rows.map((t) => t.name)
      moved.push(...await this.settleAfterRemoval(repoId, changes, now))
      if (manifest) await this.notifyDescriptor('delete', name, manifest, actor, null, version && packDetail(name, version, formatTag(version.group_name, version.version), moved))
      await this.meta.appendEvent({ at: now, actor, action: 'delete', repository: name, tag: tags[0] ?? null, oldDigest: digest, newDigest: null, forced: false, message: tags.join(',') })
      return tags
    })
  }

  /** settle() after tags or a manifest went; the pack repository goes when nothing is left in it. */
  private async settleAfterRemoval(repoId: number, changes: TagChanges, now: number): Promise<ParentTagMove[]> {
    await this.meta.touchRepo(repoId, now)
    const moved = await this.settle(repoId, changes, now)
    await this.meta.deleteRepoIfEmpty(repoId)
    return moved
  }

  /** Inside every transaction that changes a pack: its stored header (see views.ts) and search row follow. */
  async relist(repoId: number): Promise<void> {
    await this.meta.saveHeader(repoId, await this.views.headerOf(repoId))
    await this.reindex(repoId)
  }

  /** The pack's full-text row, from the version its header shows; none without a pack version. */
  async reindex(repoId: number): Promise<void> {
    const source = await this.meta.searchSource(repoId)
    await this.meta.saveSearch(repoId, source ? searchDocument(source.name, source.display_name, source.pack_json, source.readme ?? '') : null)
  }

  /** Refuses a delete on a registry whose storage.delete.enabled is false. */
  requireDeletes(): void {
    if (!this.settings.deleteEnabled) {
      throw new RegistryError('UNSUPPORTED', 'deleting is disabled on this registry (storage.delete.enabled is false)')
    }
  }
}

/** A manifest as its events describe it. */
type ManifestDescriptor = { digest: string; mediaType: string; size: number }

/** Told of each parent tag a recomputation moves to another manifest. */
type ParentTagRecorder = (parent: TagRow, target: TagRow) => Promise<void>

/** What one transaction did to a pack's tags, for settle() to follow up once at its end. */
export class TagChanges {
  /** (group, major) lines whose parent tags are recomputed */
  readonly lines = new Map<string, { group: string | null; line: string }>()
  /** tags whose stored view is rewritten */
  readonly views = new Set<string>()
  /** manifests that moved tags left, which may now be untagged */
  readonly left: number[] = []
  /** pack versions settle() removed because the change left them untagged: each one's delete event */
  readonly dropped: ManifestDescriptor[] = []

  line(group: string | null, line: string): void {
    this.lines.set(JSON.stringify([group, line]), { group, line })
  }
}

/** A tag's group and label, also for tags that are not in the pack grammar (any OCI tag). */
export function tagParts(tag: string): { group: string | null; label: string } {
  try {
    return parseTag(tag)
  } catch {
    return { group: null, label: tag }
  }
}

/** A client may push any tag of the distribution grammar but a parent tag. */
export function checkPushedTag(tag: string): void {
  if (isParentLabel(tagParts(tag).label)) throw parentTagRefused(tag, 'DENIED')
}

/** The pack object of an event about an existing version (a tag added to it, its deletion). */
export function packDetail(name: string, version: PackVersionRow, tag: string, parentTags: ParentTagMove[]): PackEventDetail {
  return { name, version: version.version, tag, group: version.group_name, parentTags, forced: false, message: null, warnings: [] }
}
