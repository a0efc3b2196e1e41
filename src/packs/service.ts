// The pack registry's writes: publishing packs (from /v1/_packs, or recognised in a manifest a
// distribution client pushed), storing artifacts in pack repositories, tags, untags, deletes.
// Every write does its async work first (stream the archive into the blob store while reading
// it, validate, store the small files) and then commits all metadata in ONE transaction, whose
// body does database work only: the manifest, the version, the tag moves, the recomputed parent
// tags and the event. A crash leaves the old state or the new one; the blobs are leased until that commit.
//
// Tag rules are the same whatever the manifest: a tag named `[group__]version` is a version tag
// and gets parent tags (`M.x`, `M.m.x`), which clients can never write or delete.

import { PassThrough, Readable } from 'node:stream'
import type { BlobIntake, Lease } from '../blobs/intake.js'
import { type ErrorCode, RegistryError } from '../errors.js'
import type { NewManifest } from '../meta/manifests.js'
import type { PackMeta, PackVersionRow, TagRow } from '../meta/packs.js'
import type { PackEventDetail } from '../meta/outbox.js'
import type { PendingTasks } from '../meta/tasks.js'
import type { BlobInfo, BlobStore } from '../store/types.js'
import { isJsonObject, type JsonObject } from '../json.js'
import type { ParsedManifest } from '../oci/manifests.js'
import { type ArchiveLimits, containsPackJson, isArchiveLimit, isInflationLimit, type PackArchive, readPackArchive } from './archive-read.js'
import { writeReproducibleArchive } from './archive-write.js'
import { archiveFileName, EMPTY_CONFIG, packManifest } from './oras-manifest.js'
import { type CheckedPack, checkPack, type PackProblem, warningsRefused } from './pack-json.js'
import { computeParentTags } from './parent-tags.js'
import { formatTag, isParentLabel, parseTag, validateUserTag } from './tags.js'
import { packShapeOf } from './recognize.js'
import { README_SEARCH_BYTES, readmeText, searchDocument } from './search.js'
import { parseVersion } from './versions.js'
import { type PackViews, type TagView, tagView } from './views.js'
import type { YamlChecker } from './yaml-checker.js'

/** What the pack service is told by the config, and nothing more. */
export interface PackSettings {
  archive: ArchiveLimits
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

/** An artifact for a pack repository: any manifest that is not a pack. */
export interface ArtifactPush {
  manifest: NewManifest
  /** The tag it is pushed under, or null when pushed by digest. */
  tag: string | null
  lease: Lease
  actor: string
  /** The change message (the manifest's org.opencontainers.image.description), if any. */
  message: string | null
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

export class PackService {
  /** Pack archives read while they were uploaded, waiting for their manifest PUT. */
  private readonly analysed = new AnalysedArchives()

  constructor(
    private readonly store: BlobStore,
    private readonly intake: BlobIntake,
    private readonly meta: PackMeta,
    private readonly views: PackViews,
    private readonly settings: PackSettings,
    private readonly yaml: YamlChecker,
  ) {}

  /** Refuses force without a message before any byte of the archive is read. */
  static checkForceMessage(options: Pick<PublishOptions, 'force' | 'message'>): void {
    if (options.force && !options.message?.trim()) {
      throw new RegistryError('MESSAGE_REQUIRED', 'a forced push needs a message saying what changed (spectro/packyard pack push -f -m "...")')
    }
  }

  /** One streaming pass: the upload goes to the blob store and the archive reader at once. */
  async receive(upload: Readable): Promise<ReceivedPack> {
    const lease = this.intake.newLease()
    try {
      const { stored, archive } = await this.storeWhileReading(upload, lease)
      if (stored.digest !== archive.archiveDigest) {
        throw new RegistryError('INTERNAL', 'the stored archive and the read archive differ')
      }
      const received = await this.validateAndStoreFiles(archive, lease)
      // A pack pushed as an archive is served as ORAS 1.0 pushes it (what Palette scans for).
      const served = packManifest({ digest: archive.archiveDigest, size: archive.archiveSize }, archiveFileName(received.checked.pack.name, received.checked.pack.version))
      return { ...received, manifest: { ...served, subjectDigest: null, manifests: [] } }
    } catch (err) {
      await lease.release()
      throw err
    }
  }

  /**
   * A pack whose archive is already a blob of the repository (a manifest pushed by a
   * distribution client): read, validated, its files stored under `lease`. The manifest is the
   * one the client sent.
   */
  async receiveStored(archiveDigest: string, manifest: NewManifest, lease: Lease): Promise<ReceivedPack> {
    const archive = await readPackArchive(await this.store.open(archiveDigest), this.settings.archive)
    return { ...(await this.validateAndStoreFiles(archive, lease)), manifest }
  }

  /**
   * A pack made of separate files (pack.json and titled layers): archived reproducibly, as
   * `packyard pack push` would have, and received like an upload. The manifest stays the
   * client's; the archive is what pulls of the version send.
   */
  async receiveBuilt(archive: Readable, manifest: NewManifest, lease: Lease): Promise<ReceivedPack> {
    const { stored, archive: read } = await this.storeWhileReading(archive, lease)
    if (stored.digest !== read.archiveDigest) throw new RegistryError('INTERNAL', 'the stored archive and the read archive differ')
    return { ...(await this.validateAndStoreFiles(read, lease)), manifest }
  }

  /**
   * Watches a blob uploaded into a pack repository (see OciUploads): the upload goes on to the
   * blob store through the returned stream while a second branch reads it as a pack archive.
   * What it reads is kept by the archive's digest for the manifest PUT that references it, and
   * so is a gzip tar refused by the limits that recognise() applies too, under the digest the
   * client declared (a blob is stored only under that one), so that the PUT refuses it without
   * inflating it again. A blob that is no pack archive just stops the reading branch, never the
   * upload.
   */
  watchUpload(source: Readable, digest: string): Readable {
    const toStore = new PassThrough({ highWaterMark: 1 << 20 })
    const toReader = new PassThrough({ highWaterMark: 1 << 20 })
    source.on('error', (err) => {
      toStore.destroy(err)
      toReader.destroy(err)
    })
    // An upload cut short must end the reading too: a manifest PUT may be waiting for it.
    source.on('close', () => {
      if (!source.readableEnded) toReader.destroy(new Error('the upload ended early'))
    })
    source.pipe(toStore)
    source.pipe(toReader)
    const reading = readPackArchive(toReader, this.settings.archive).then(
      (archive) => this.analysed.add(archive),
      (err: unknown) => {
        source.unpipe(toReader)
        // containsPackJson, or readPackArchive after it, would reach the same refusal.
        if (isInflationLimit(err)) this.analysed.refuse(digest, err)
      },
    )
    this.analysed.reading(digest, reading)
    return toStore
  }

  /**
   * Whether a manifest pushed into a pack repository holds a pack, decided by the shape of the
   * manifest (recognize.ts) and then by the bytes it points at. A pack is read, validated and
   * its files stored under `lease` (errors are the pack's: PACK_INVALID, ARCHIVE_INVALID...);
   * a gzip tar layer that breaks the archive limits before showing a pack.json is
   * MANIFEST_INVALID naming the limit; anything else is null, an artifact.
   */
  async recognise(parsed: ParsedManifest, manifest: NewManifest, lease: Lease): Promise<ReceivedPack | null> {
    const shape = packShapeOf(parsed)
    if (shape.kind === 'archive') {
      const { digest, size } = shape.layer
      const known = await this.analysed.take(digest)
      if (known instanceof RegistryError) throw layerOverLimits(digest, known)
      if (known) return { ...(await this.validateAndStoreFiles(known, lease)), manifest }
      let isPack: boolean
      try {
        isPack = await containsPackJson(await this.store.open(digest), this.settings.archive, size)
      } catch (err) {
        if (!isArchiveLimit(err)) throw err
        throw layerOverLimits(digest, err)
      }
      return isPack ? this.receiveStored(digest, manifest, lease) : null
    }
    if (shape.kind === 'files') {
      if (shape.packJson.size > this.settings.archive.maxExtractedFileBytes) return null
      const text = (await readAll(await this.store.open(shape.packJson.digest))).toString('utf8')
      const doc = parseJsonOrNull(text)
      if (!doc || typeof doc.name !== 'string' || typeof doc.version !== 'string') return null
      const blobInput = (path: string, blob: { digest: string; size: number }) => ({
        path,
        size: blob.size,
        mode: 0o644,
        open: () => Readable.from(openLazily(() => this.store.open(blob.digest))),
      })
      const inputs = [blobInput('pack.json', shape.packJson), ...shape.files.map((f) => blobInput(f.path, f.blob))]
      return this.receiveBuilt(writeReproducibleArchive(`${doc.name}-${doc.version}`, inputs), manifest, lease)
    }
    return null
  }

  /**
   * Leases the blobs and child manifests a manifest names, then checks that each is in the
   * repository with the size the manifest declares (a client verifying sizes could not pull it
   * otherwise). The caller passes the lease on to the commit, which ends it.
   */
  async holdReferences(name: string, refs: { blobs: Array<{ digest: string; size: number }>; manifests: Array<{ digest: string; size: number }> }): Promise<Lease> {
    const lease = this.intake.newLease()
    await lease.take(refs.blobs.map((b) => b.digest))
    try {
      const repo = await this.meta.repoByName(name)
      const problems = await this.meta.referenceProblems(repo?.id ?? null, refs)
      const problem = (kind: 'blob' | 'manifest', index: number) => problems.find((p) => p.kind === kind && p.index === index)
      for (const [i, blob] of refs.blobs.entries()) {
        const found = problem('blob', i)
        const size = found ? found.actualSize : blob.size
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
      for (const [i, child] of refs.manifests.entries()) {
        const found = problem('manifest', i)
        const size = found ? found.actualSize : child.size
        if (size === null) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', `manifest ${child.digest} is not in ${name}; push it first`, { digest: child.digest })
        if (size !== child.size) {
          throw new RegistryError('MANIFEST_INVALID', `manifest invalid: it declares manifest ${child.digest} as ${child.size} bytes, but it has ${size}`, {
            digest: child.digest,
            declaredSize: child.size,
            actualSize: size,
          })
        }
      }
    } catch (err) {
      await lease.release()
      throw err
    }
    return lease
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

  private async validateAndStoreFiles(archive: PackArchive, lease: Lease): Promise<Omit<ReceivedPack, 'manifest'>> {
    const yamlProblems = await this.yaml.check(archive.extracted)
    const checked = checkPack(archive.extracted.get('pack.json')?.toString('utf8'), new Set(archive.files.map((f) => f.path)), { strict: false }, yamlProblems)
    const names = [...archive.extracted.keys()]
    const placed = await this.intake.placeBuffers([...archive.extracted.values(), EMPTY_CONFIG], lease)
    const files: Record<string, BlobInfo> = {}
    names.forEach((name, i) => (files[name] = placed[i] as BlobInfo))
    return { lease, checked, archive, files }
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
    PackService.checkForceMessage(options)
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
  private async notifyPackPush(r: ReceivedPack, options: { actor: string; message: string | null }, moved: ParentTagMove[], forced: boolean, aliasTag?: string): Promise<void> {
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
  private async notifyManifest(action: 'push' | 'delete', name: string, manifestId: number, actor: string, tag: string | null, pack?: PackEventDetail): Promise<void> {
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
  private async notifyDropped(name: string, actor: string, changes: TagChanges): Promise<void> {
    for (const manifest of changes.dropped) await this.notifyDescriptor('delete', name, manifest, actor, null)
  }

  private async insertVersion(repoId: number, r: ReceivedPack, options: PublishOptions, now: number): Promise<number> {
    const known = await this.meta.manifestId(repoId, r.manifest.digest)
    // The archive is one of the manifest's blobs, except for a pack pushed as files, whose
    // archive the registry built: it is recorded here like the rest.
    const archive = { digest: r.archive.archiveDigest, size: r.archive.archiveSize }
    for (const blob of [...r.manifest.blobs, ...Object.values(r.files), archive]) await this.meta.recordBlob(repoId, blob.digest, (blob as BlobInfo).size, now)
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
   * Stores a manifest that is not a pack in a pack repository (an opaque artifact, or a
   * signature or SBOM whose subject is a version), and moves its tag by the pack tag rules.
   * A tag on a pack version is the pack's: only another pack may take it (a forced push), so an
   * artifact pushed to it is refused. Overwriting an artifact's tag is recorded like a forced
   * push. The lease ends either way.
   */
  async commitArtifact(name: string, push: ArtifactPush): Promise<{ outcome: PublishStatus }> {
    try {
      if (push.tag !== null) checkPushedTag(push.tag)
      const now = Date.now()
      return await this.meta.transaction(async () => {
        await this.meta.releaseLease(push.lease.id)
        const repoId = await this.meta.ensureRepo(name, now)
        const known = await this.meta.manifestId(repoId, push.manifest.digest)
        let previous: TagRow | undefined
        let changes: TagChanges | undefined
        if (push.tag !== null) {
          previous = await this.meta.tag(repoId, push.tag)
          if (previous && previous.archive_digest !== null && known !== previous.manifest_id) {
            throw packTagTaken(name, push.tag, previous)
          }
        }
        const manifestId = known ?? (await this.meta.insertManifest(repoId, push.manifest, now))
        if (push.tag !== null) {
          // Unchanged, but distribution sends a push event for every manifest PUT.
          if (previous?.manifest_id === manifestId) {
            await this.notifyManifest('push', name, manifestId, push.actor, push.tag)
            return { outcome: 'unchanged' as const }
          }
          changes = new TagChanges()
          await this.writeTag(repoId, push.tag, manifestId, now, changes)
          await this.settle(repoId, changes, now)
        } else if (known !== undefined) {
          await this.notifyManifest('push', name, manifestId, push.actor, null)
          return { outcome: 'unchanged' as const }
        } else {
          await this.relist(repoId)
        }
        await this.meta.appendEvent({
          at: now,
          actor: push.actor,
          action: previous ? 'update' : known === undefined ? 'create' : 'tag',
          repository: name,
          tag: push.tag,
          oldDigest: previous ? (previous.archive_digest ?? previous.manifest_digest) : null,
          newDigest: push.manifest.digest,
          forced: previous !== undefined,
          message: push.message,
        })
        await this.notifyManifest('push', name, manifestId, push.actor, push.tag)
        if (changes) await this.notifyDropped(name, push.actor, changes)
        return { outcome: previous ? ('updated' as const) : ('created' as const) }
      })
    } catch (err) {
      await push.lease.release()
      throw err
    }
  }

  /**
   * Points `tag` at `manifestId` (creating or moving it) and notes what must follow. Its kind
   * follows its name: a label that is a version makes a version tag (with parent tags on its
   * line), anything else an alias.
   */
  private async writeTag(repoId: number, tag: string, manifestId: number, now: number, changes: TagChanges): Promise<void> {
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
  private async settle(repoId: number, changes: TagChanges, now: number, record?: ParentTagRecorder): Promise<ParentTagMove[]> {
    const moved: ParentTagMove[] = []
    for (const { group, line } of changes.lines.values()) moved.push(...await this.recomputeLine(repoId, group, line, now, changes, record))
    for (const manifestId of changes.left) await this.dropIfUntagged(manifestId, changes)
    for (const name of changes.views) await this.renderView(repoId, name)
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

  /** Stores a tag's view as the API shows it (a tag deleted meanwhile has none to store). */
  private async renderView(repoId: number, name: string): Promise<void> {
    const row = await this.meta.tag(repoId, name)
    if (!row) return
    await this.meta.setView(row.id, JSON.stringify(tagView(row, row.kind === 'version' ? await this.meta.parentsFollowing(repoId, name) : [])))
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

  /**
   * A pack manifest PUT that changes nothing (a repeated copy by skopeo or oras: every one of
   * `tags` already on its manifest) records its push event alone, as distribution sends one per
   * manifest PUT. false, recording nothing, when the push would change something. The lease ends
   * unless it is false.
   */
  async repushed(r: ReceivedPack, tags: string[], actor: string, message: string | null, aliasTag?: string): Promise<boolean> {
    const name = r.checked.pack.name
    let same: boolean
    try {
      same = await this.meta.transaction(async () => {
        const repo = await this.meta.repoByName(name)
        if (repo === undefined) return false
        for (const tag of tags) if ((await this.meta.tag(repo.id, tag))?.manifest_digest !== r.manifest.digest) return false
        await this.notifyPackPush(r, { actor, message }, [], false, aliasTag)
        return true
      })
    } catch (err) {
      await r.lease.release()
      throw err
    }
    if (same) await r.lease.release()
    return same
  }

  // ---- tags and deletes -------------------------------------------------------------------

  async addTag(name: string, tag: string, ref: string, actor: string): Promise<{ status: 'created' | 'unchanged'; tag: TagView }> {
    validateUserTag(tag)
    const { repoId, version } = await this.views.resolve(name, ref)
    const now = Date.now()
    const status = await this.meta.transaction(async () => {
      const current = await this.meta.tag(repoId, tag)
      if (current) {
        if (current.manifest_id === version.manifest_id) return 'unchanged' as const
        throw new RegistryError('TAG_EXISTS', `${name}:${tag} already points at version ${current.version} (${current.archive_digest}); delete it first to move it`, {
          tag,
          digest: current.archive_digest ?? current.manifest_digest,
        })
      }
      const changes = new TagChanges()
      await this.writeTag(repoId, tag, version.manifest_id, now, changes)
      await this.meta.touchRepo(repoId, now)
      const moved = await this.settle(repoId, changes, now)
      await this.meta.appendEvent({ at: now, actor, action: 'tag', repository: name, tag, oldDigest: null, newDigest: version.archive_digest, forced: false, message: null })
      await this.notifyManifest('push', name, version.manifest_id, actor, tag, packDetail(name, version, tag, moved))
      return 'created' as const
    })
    return { status, tag: await this.views.tag(name, tag) }
  }

  /** Deletes a tag (never a parent tag: `parentCode` says how the asking surface refuses it). */
  async deleteTag(name: string, tag: string, actor: string, parentCode: ParentTagCode = 'TAG_PROTECTED'): Promise<TagRow> {
    this.requireDeletes()
    const repoId = await this.views.repoId(name)
    if (isParentLabel(tagParts(tag).label)) throw parentTagRefused(tag, parentCode)
    const now = Date.now()
    return await this.meta.transaction(async () => {
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

  /**
   * Deletes a version named by its version tag or a digest. A parent tag or an alias moves
   * (or may be moved by someone else), so a destructive call refuses them and names the
   * version tag to use instead. The version tag is the one the push gave it, `[group__]version`,
   * semantic or not: `1.2.3.4` or `latest` as a version is stored as an alias kind (no parent
   * tags) but is still that version's own tag.
   */
  async deleteVersion(name: string, ref: string, actor: string): Promise<{ version: PackVersionRow; tags: string[] }> {
    this.requireDeletes()
    const { repoId, version, tag } = await this.views.resolve(name, ref)
    const versionTag = formatTag(version.group_name, version.version)
    if (tag !== null && tag.kind !== 'version' && tag.name !== versionTag) {
      const what = tag.kind === 'parent' ? 'a parent tag, which follows the highest version' : 'an alias, which can be moved'
      throw new RegistryError(
        'BAD_REQUEST',
        `${name}:${ref} is ${what}; to delete the version it points at now, name it by its version tag ${versionTag} (or its digest ${version.archive_digest})`,
        { tag: ref, kind: tag.kind, versionTag, digest: version.archive_digest },
      )
    }
    const tags = await this.deleteManifestAndTags(name, repoId, version.manifest_id, version.archive_digest, actor)
    return { version, tags }
  }

  /**
   * Deletes a manifest of a pack repository by its digest, from a distribution client: a pack
   * version with its tags, or an artifact with its tags. Parent tags are re-linked to what
   * remains.
   */
  async deleteManifest(name: string, digest: string, actor: string): Promise<void> {
    this.requireDeletes()
    const repoId = await this.views.repoId(name)
    const manifestId = await this.meta.manifestId(repoId, digest)
    if (manifestId === undefined) throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${digest} is not in ${name}`, { name, digest })
    const version = await this.meta.version(manifestId)
    await this.deleteManifestAndTags(name, repoId, manifestId, version?.archive_digest ?? digest, actor)
  }

  private async deleteManifestAndTags(name: string, repoId: number, manifestId: number, digest: string, actor: string): Promise<string[]> {
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
  private async relist(repoId: number): Promise<void> {
    await this.meta.saveHeader(repoId, await this.views.headerOf(repoId))
    await this.reindex(repoId)
  }

  /** The pack's full-text row, from the version its header shows; none without a pack version. */
  private async reindex(repoId: number): Promise<void> {
    const source = await this.meta.searchSource(repoId)
    await this.meta.saveSearch(repoId, source ? searchDocument(source.name, source.display_name, source.pack_json, source.readme ?? '') : null)
  }

  /**
   * At start-up, migration 0012's work: the searchable start of the README of every version
   * pushed before it (read from the blob store, README_SEARCH_BYTES of it), then a search row
   * for every pack without one. READMEs land with their packs' rows, a batch per transaction
   * (one fsync per batch, not per version), so a crash leaves only what is still to do. A README
   * the store cannot read is searched as empty (fsck reports the missing blob) and counted.
   */
  async indexForSearch(): Promise<{ readmes: number; unreadable: number; packs: number }> {
    let unreadable = 0
    const reindexed = new Set<number>()
    const pending = await this.meta.readmesToRead()
    for (let start = 0; start < pending.length; start += README_BATCH) {
      const batch: Array<{ manifestId: number; repoId: number; text: string }> = []
      for (const version of pending.slice(start, start + README_BATCH)) {
        let text = ''
        try {
          const range = version.size > README_SEARCH_BYTES ? { start: 0, end: README_SEARCH_BYTES - 1 } : undefined
          text = readmeText(await readAll(await this.store.open(version.digest, range)))
        } catch {
          unreadable++
        }
        batch.push({ manifestId: version.manifest_id, repoId: version.repository_id, text })
      }
      await this.meta.transaction(async () => {
        for (const { manifestId, text } of batch) await this.meta.saveReadme(manifestId, text)
        for (const repoId of new Set(batch.map((b) => b.repoId))) {
          await this.reindex(repoId)
          reindexed.add(repoId)
        }
      })
    }
    await this.meta.transaction(async () => {
      for (const repoId of await this.meta.reposWithoutSearch()) {
        await this.reindex(repoId)
        reindexed.add(repoId)
      }
    })
    return { readmes: pending.length, unreadable, packs: reindexed.size }
  }

  /**
   * At start-up: the work migrations left to the code (see migrations/0009), then the headers
   * of packs written before headers were stored.
   */
  async runPendingWork(tasks: PendingTasks): Promise<{ headers: number; parentTagsMoved: number }> {
    let parentTagsMoved = 0
    if ((await tasks.pending()).includes(TAG_LINES_TASK)) {
      parentTagsMoved = await this.meta.transaction(async () => {
        const moved = await this.fillTagLines()
        await tasks.finish(TAG_LINES_TASK)
        return moved
      })
    }
    const headers = await this.meta.transaction(async () => {
      const missing = await this.meta.reposWithoutHeader()
      for (const repoId of missing) await this.relist(repoId)
      return missing.length
    })
    return { headers, parentTagsMoved }
  }

  /**
   * Migration 0009's work: every version and parent tag gets its line, every parent tag its
   * target, under the rule that pre-releases never take a parent tag from a release; each
   * parent tag that now points elsewhere is recorded in the event log. Returns how many moved.
   */
  private async fillTagLines(): Promise<number> {
    let moved = 0
    const now = Date.now()
    for (const repoId of await this.meta.packRepoIds()) {
      const repo = await this.meta.repoName(repoId)
      const changes = new TagChanges()
      for (const t of await this.meta.tagPage(repoId, '', Number.MAX_SAFE_INTEGER)) {
        const version = t.kind === 'alias' ? null : parseVersion(t.kind === 'parent' ? t.label.slice(0, t.label.indexOf('.')) : t.label)
        const line = version ? String(version.major) : null
        await this.meta.setLine(t.id, line)
        if (line !== null) changes.line(t.group_name, line)
        changes.views.add(t.name)
      }
      await this.settle(repoId, changes, now, async (parent, target) => {
        moved++
        await this.meta.appendEvent({
          at: now,
          actor: SYSTEM_ACTOR,
          action: 'update',
          repository: repo,
          tag: parent.name,
          oldDigest: parent.archive_digest ?? parent.manifest_digest,
          newDigest: target.archive_digest ?? target.manifest_digest,
          forced: false,
          message: 'parent tags no longer move from a release to a pre-release (migration 0009)',
        })
      })
    }
    return moved
  }

  private requireDeletes(): void {
    if (!this.settings.deleteEnabled) {
      throw new RegistryError('UNSUPPORTED', 'deleting is disabled on this registry (storage.delete.enabled is false)')
    }
  }
}

/** READMEs read from the blob store per transaction at start-up (migration 0012's work). */
const README_BATCH = 200
/** The actor of changes the registry makes by itself (a migration's). */
const SYSTEM_ACTOR = 'packyard'
/** migrations/0009's work: lines, targets and views of existing tags, parent tags recomputed. */
const TAG_LINES_TASK = 'tag-lines'

/** A manifest as its events describe it. */
type ManifestDescriptor = { digest: string; mediaType: string; size: number }

/** Told of each parent tag a recomputation moves to another manifest. */
type ParentTagRecorder = (parent: TagRow, target: TagRow) => Promise<void>

/** What one transaction did to a pack's tags, for settle() to follow up once at its end. */
class TagChanges {
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

/** An artifact pushed to a tag that a pack version holds. */
function packTagTaken(name: string, tag: string, holder: TagRow): RegistryError {
  return new RegistryError(
    'DENIED',
    `${tag} is version ${holder.version} of pack ${name}; only a pack can replace it (push the new version of the pack). ` +
      'Push signatures, SBOMs and other artifacts as referrers of the version (with it as their subject) or under a tag of their own',
    { tag, version: holder.version, digest: holder.archive_digest },
  )
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

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function parseJsonOrNull(text: string): JsonObject | null {
  try {
    const value: unknown = JSON.parse(text)
    return isJsonObject(value) ? value : null
  } catch {
    return null
  }
}

/** A stream opened only when it is first read (the archive writer reads its files in turn). */
async function* openLazily(open: () => Promise<Readable>): AsyncIterable<Buffer> {
  for await (const chunk of await open()) yield chunk as Buffer
}

/** A gzip tar layer over the limits: it might be a pack nobody checked, where Palette looks for packs, so refused as a push of it would be. */
function layerOverLimits(digest: string, err: RegistryError): RegistryError {
  return new RegistryError('MANIFEST_INVALID', `manifest invalid: layer ${digest} is a gzip tar that breaks this registry's archive limits before any pack.json: ${err.message}`, {
    digest,
    code: err.code,
    ...err.detail,
  })
}

/**
 * Archives read during upload, and the limits that refused others, by digest, until the manifest
 * that references them arrives. Bounded: the oldest go first past 64 entries or 64 MiB of
 * extracted small files (a miss only means the manifest PUT reads the archive again).
 */
class AnalysedArchives {
  private readonly byDigest = new Map<string, PackArchive | RegistryError>()
  private bytes = 0
  /**
   * Reads still going on after their upload was answered (the reader may lag the store by its
   * buffer), by declared digest: a manifest PUT waits for its layer's rather than read it again.
   */
  private readonly pending = new Map<string, Promise<void>>()

  reading(digest: string, read: Promise<void>): void {
    const settled: Promise<void> = read.finally(() => {
      if (this.pending.get(digest) === settled) this.pending.delete(digest)
    })
    this.pending.set(digest, settled)
  }

  add(archive: PackArchive): void {
    this.keep(archive.archiveDigest, archive)
  }

  refuse(digest: string, err: RegistryError): void {
    this.keep(digest, err)
  }

  async take(digest: string): Promise<PackArchive | RegistryError | undefined> {
    await this.pending.get(digest)
    const known = this.byDigest.get(digest)
    this.remove(digest)
    return known
  }

  private keep(digest: string, known: PackArchive | RegistryError): void {
    this.remove(digest)
    this.byDigest.set(digest, known)
    this.bytes += extractedBytes(known)
    for (const [oldest] of this.byDigest) {
      if (this.byDigest.size <= 64 && this.bytes <= 64 * 1024 * 1024) break
      this.remove(oldest)
    }
  }

  private remove(digest: string): void {
    const known = this.byDigest.get(digest)
    if (!known) return
    this.byDigest.delete(digest)
    this.bytes -= extractedBytes(known)
  }
}

function extractedBytes(known: PackArchive | RegistryError): number {
  if (known instanceof RegistryError) return 0
  let total = 0
  for (const data of known.extracted.values()) total += data.length
  return total
}

/** The pack object of an event about an existing version (a tag added to it, its deletion). */
function packDetail(name: string, version: PackVersionRow, tag: string, parentTags: ParentTagMove[]): PackEventDetail {
  return { name, version: version.version, tag, group: version.group_name, parentTags, forced: false, message: null, warnings: [] }
}
