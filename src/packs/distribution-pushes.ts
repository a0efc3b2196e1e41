// Pack recognition for distribution pushes: what a distribution client (or the mirror, sync/)
// writes into a pack repository (/v1/<name> or /v2/<oci.namespace>/<name>). Any valid manifest is
// stored byte for byte. One that holds a pack (recognize.ts: an archive layer, or pack.json and
// titled layers) goes through the same validation and the same publish transaction as a
// /v1/_packs push (pack-writes.ts), so tags, groups and parent tags come out exactly the same; a
// recognised pack that is invalid is refused (MANIFEST_INVALID with the pack error in detail)
// rather than stored half-understood. Anything else is kept as an artifact under the same tag
// rules. Uploads into pack repositories are read as pack archives while they stream
// (watchUpload), so the manifest PUT need not read them again. Deletes follow the pack rules
// too: parent tags cannot be deleted, and deleting a version re-links them.

import { PassThrough, Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import type { BlobIntake, Lease } from '../blobs/intake.js'
import { isRegistryError, RegistryError } from '../errors.js'
import { isJsonObject, type JsonObject } from '../json.js'
import type { NewManifest } from '../meta/manifests.js'
import type { PackMeta, TagRow } from '../meta/packs.js'
import type { ParsedManifest } from '../oci/manifests.js'
import type { ManifestOutcome, PackOciBridge } from '../oci/pack-bridge.js'
import type { BlobStore } from '../store/types.js'
import { type ArchiveLimits, containsPackJson, isArchiveLimit, isInflationLimit, type PackArchive, readPackArchive } from './archive-read.js'
import { writeReproducibleArchive } from './archive-write.js'
import type { PackReceiver } from './pack-receiving.js'
import { checkPushedTag, type PackWrites, type PublishOptions, type PublishResult, type PublishStatus, type ReceivedPack, TagChanges, tagParts } from './pack-writes.js'
import { packShapeOf } from './recognize.js'
import { parseVersion } from './versions.js'
import type { PackViews } from './views.js'

const DESCRIPTION = 'org.opencontainers.image.description'

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

export class DistributionPushes implements PackOciBridge {
  /** Pack archives read while they were uploaded, waiting for their manifest PUT. */
  private readonly analysed = new AnalysedArchives()

  constructor(
    private readonly store: BlobStore,
    private readonly intake: BlobIntake,
    private readonly meta: PackMeta,
    private readonly views: PackViews,
    private readonly receiver: PackReceiver,
    private readonly writes: PackWrites,
    private readonly limits: ArchiveLimits,
  ) {}

  /**
   * A manifest pushed to a pack repository by tag or digest (see PackOciBridge): a recognised
   * pack is published by the pack rules, anything else is stored as an artifact.
   */
  async putManifest(packName: string, reference: string, body: Buffer, parsed: ParsedManifest, actor: string): Promise<{ digest: string; outcome: ManifestOutcome }> {
    const byTag = !reference.includes(':')
    if (byTag) checkPushedTag(reference)
    const manifest: NewManifest = {
      digest: parsed.digest,
      mediaType: parsed.mediaType,
      artifactType: parsed.artifactType,
      content: body,
      subjectDigest: parsed.subject?.digest ?? null,
      blobs: parsed.blobs,
      manifests: parsed.manifests,
    }
    const message = parsed.annotations?.[DESCRIPTION] ?? null
    const lease = await this.holdReferences(packName, parsed)
    let received: ReceivedPack | null
    try {
      received = await this.recognise(parsed, manifest, lease)
    } catch (err) {
      await lease.release()
      throw asManifestInvalid(err, (e) => e.status < 500 && e.code !== 'MANIFEST_INVALID')
    }
    if (received === null) {
      const stored = await this.commitArtifact(packName, { manifest, tag: byTag ? reference : null, lease, actor, message })
      return { digest: parsed.digest, outcome: stored.outcome }
    }

    const { pack, tag } = received.checked
    const refuse = async (problem: string, detail: Record<string, unknown>) => {
      await lease.release()
      return new RegistryError('MANIFEST_INVALID', `manifest invalid: ${problem}`, detail)
    }
    if (pack.name !== packName) {
      throw await refuse(`it holds pack ${pack.name}, not ${packName}; push it to the repository named after the pack`, { pack: pack.name })
    }
    const label = tagParts(reference).label
    if (byTag && label !== pack.version && parseVersion(label) !== null) {
      throw await refuse(`the tag ${reference} names a version, but pack.json says version ${pack.version} (tag ${tag})`, { tag: reference, versionTag: tag })
    }
    // A repeated copy of the same manifest (skopeo, oras) changes nothing: its push event alone.
    if (await this.repushed(received, [tag, ...(byTag ? [reference] : [])], actor, message, byTag ? reference : undefined)) {
      return { digest: parsed.digest, outcome: 'unchanged' }
    }
    let result
    try {
      result = await this.writes.commit(
        received,
        { force: true, message: message ?? `pushed with a distribution client as ${reference}`, skipDigestCheck: true, strict: false, actor },
        byTag ? reference : undefined,
      )
    } catch (err) {
      // Warnings refused by packs.validation: strict, said in the distribution API's terms.
      throw asManifestInvalid(err, (e) => e.code === 'PACK_INVALID')
    }
    return { digest: parsed.digest, outcome: result.status }
  }

  /**
   * Deletes a manifest of a pack repository by its digest, from a distribution client: a pack
   * version with its tags, or an artifact with its tags. Parent tags are re-linked to what
   * remains.
   */
  async deleteManifest(name: string, digest: string, actor: string): Promise<void> {
    this.writes.requireDeletes()
    // Found and deleted in one transaction: two deletes of one manifest cannot both happen.
    await this.meta.transaction(async () => {
      const repoId = await this.views.repoId(name)
      const manifestId = await this.meta.manifestId(repoId, digest)
      if (manifestId === undefined) throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${digest} is not in ${name}`, { name, digest })
      const version = await this.meta.version(manifestId)
      await this.writes.deleteManifestAndTags(name, repoId, manifestId, version?.archive_digest ?? digest, actor)
    })
  }

  /** Deletes one tag of the pack; a parent tag is refused as DENIED, as distribution says it. */
  async deleteTag(packName: string, tag: string, actor: string): Promise<void> {
    await this.writes.deleteTag(packName, tag, actor, 'DENIED')
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
    const reading = readPackArchive(toReader, this.limits).then(
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
      if (known) return { ...(await this.receiver.validateAndStoreFiles(known, lease)), manifest }
      let isPack: boolean
      try {
        isPack = await containsPackJson(await this.store.open(digest), this.limits, size)
      } catch (err) {
        if (!isArchiveLimit(err)) throw err
        throw layerOverLimits(digest, err)
      }
      return isPack ? this.receiveStored(digest, manifest, lease) : null
    }
    if (shape.kind === 'files') {
      if (shape.packJson.size > this.limits.maxExtractedFileBytes) return null
      const text = (await buffer(await this.store.open(shape.packJson.digest))).toString('utf8')
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
            await this.writes.notifyManifest('push', name, manifestId, push.actor, push.tag)
            return { outcome: 'unchanged' as const }
          }
          changes = new TagChanges()
          await this.writes.writeTag(repoId, push.tag, manifestId, now, changes)
          await this.writes.settle(repoId, changes, now)
        } else if (known !== undefined) {
          await this.writes.notifyManifest('push', name, manifestId, push.actor, null)
          return { outcome: 'unchanged' as const }
        } else {
          await this.writes.relist(repoId)
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
        await this.writes.notifyManifest('push', name, manifestId, push.actor, push.tag)
        if (changes) await this.writes.notifyDropped(name, push.actor, changes)
        return { outcome: previous ? ('updated' as const) : ('created' as const) }
      })
    } catch (err) {
      await push.lease.release()
      throw err
    }
  }

  /** Publishes a pack recognise() returned (the mirror's copies; see PackWrites.commit). */
  async commit(r: ReceivedPack, options: PublishOptions): Promise<PublishResult> {
    return await this.writes.commit(r, options)
  }

  /**
   * A pack whose archive is already a blob of the repository (a manifest pushed by a
   * distribution client): read, validated, its files stored under `lease`. The manifest is the
   * one the client sent.
   */
  private async receiveStored(archiveDigest: string, manifest: NewManifest, lease: Lease): Promise<ReceivedPack> {
    const archive = await readPackArchive(await this.store.open(archiveDigest), this.limits)
    return { ...(await this.receiver.validateAndStoreFiles(archive, lease)), manifest }
  }

  /**
   * A pack made of separate files (pack.json and titled layers): archived reproducibly, as
   * `packyard pack push` would have, and received like an upload. The manifest stays the
   * client's; the archive is what pulls of the version send.
   */
  private async receiveBuilt(archive: Readable, manifest: NewManifest, lease: Lease): Promise<ReceivedPack> {
    return { ...(await this.receiver.receive(archive, lease)), manifest }
  }

  /**
   * A pack manifest PUT that changes nothing (a repeated copy by skopeo or oras: every one of
   * `tags` already on its manifest) records its push event alone, as distribution sends one per
   * manifest PUT. false, recording nothing, when the push would change something. The lease ends
   * unless it is false.
   */
  private async repushed(r: ReceivedPack, tags: string[], actor: string, message: string | null, aliasTag?: string): Promise<boolean> {
    const name = r.checked.pack.name
    // Most pushes change something, which reads tell without a transaction; only what looks
    // like a repeat takes one (and checks again inside it) to record its event.
    let same = await this.tagsOn(name, tags, r.manifest.digest)
    if (!same) return false
    try {
      same = await this.meta.transaction(async () => {
        if (!(await this.tagsOn(name, tags, r.manifest.digest))) return false
        await this.writes.notifyPackPush(r, { actor, message }, [], false, aliasTag)
        return true
      })
    } catch (err) {
      await r.lease.release()
      throw err
    }
    if (same) await r.lease.release()
    return same
  }

  /** Whether every one of `tags` of pack `name` is on the manifest `digest`. */
  private async tagsOn(name: string, tags: string[], digest: string): Promise<boolean> {
    const repo = await this.meta.repoByName(name)
    if (repo === undefined) return false
    for (const tag of tags) if ((await this.meta.tag(repo.id, tag))?.manifest_digest !== digest) return false
    return true
  }

  // ---- tags and deletes -------------------------------------------------------------------

}

/** A pack error that `matches`, as the MANIFEST_INVALID a distribution client understands. */
function asManifestInvalid(err: unknown, matches: (err: RegistryError) => boolean): unknown {
  if (!isRegistryError(err) || !matches(err)) return err
  return new RegistryError('MANIFEST_INVALID', `the manifest holds a pack that is not valid: ${err.message}`, { code: err.code, ...err.detail })
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

