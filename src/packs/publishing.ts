// The pack writes of /v1/_packs: publishing a pack archive (`packyard pack push`), adding and
// deleting tags, deleting versions. The bytes are received by pack-receiving.ts; the one
// publish transaction, tag rules, parent tags and deletes are pack-writes.ts's, shared with
// distribution pushes (distribution-pushes.ts).

import type { Readable } from 'node:stream'
import type { BlobIntake } from '../blobs/intake.js'
import { RegistryError } from '../errors.js'
import type { PackMeta, PackVersionRow, TagRow } from '../meta/packs.js'
import { archiveFileName, packManifest } from './oras-manifest.js'
import type { PackReceiver } from './pack-receiving.js'
import { packDetail, PackWrites, type PublishOptions, type PublishResult, type ReceivedPack, TagChanges } from './pack-writes.js'
import { formatTag, validateUserTag } from './tags.js'
import type { PackViews, TagView } from './views.js'

export class PackPublishing {
  constructor(
    private readonly intake: BlobIntake,
    private readonly receiver: PackReceiver,
    private readonly writes: PackWrites,
    private readonly meta: PackMeta,
    private readonly views: PackViews,
  ) {}

  /** Refuses force without a message before any byte of the archive is read. */
  static checkForceMessage(options: Pick<PublishOptions, 'force' | 'message'>): void {
    PackWrites.checkForceMessage(options)
  }

  /** A pack archive uploaded to /v1/_packs, received under a lease of its own (ended if it fails). */
  async receive(upload: Readable): Promise<ReceivedPack> {
    const lease = this.intake.newLease()
    try {
      const received = await this.receiver.receive(upload, lease)
      const { archive } = received
      // A pack pushed as an archive is served as ORAS 1.0 pushes it (what Palette scans for).
      const served = packManifest({ digest: archive.archiveDigest, size: archive.archiveSize }, archiveFileName(received.checked.pack.name, received.checked.pack.version))
      return { ...received, manifest: { ...served, subjectDigest: null, manifests: [] } }
    } catch (err) {
      await lease.release()
      throw err
    }
  }

  async addTag(name: string, tag: string, ref: string, actor: string): Promise<{ status: 'created' | 'unchanged'; tag: TagView }> {
    validateUserTag(tag)
    const now = Date.now()
    // Resolved inside the transaction: a version deleted meanwhile is a 404, not a tag on nothing.
    const status = await this.meta.transaction(async () => {
      const { repoId, version } = await this.views.resolve(name, ref)
      const current = await this.meta.tag(repoId, tag)
      if (current) {
        if (current.manifest_id === version.manifest_id) return 'unchanged' as const
        throw new RegistryError('TAG_EXISTS', `${name}:${tag} already points at version ${current.version} (${current.archive_digest}); delete it first to move it`, {
          tag,
          digest: current.archive_digest ?? current.manifest_digest,
        })
      }
      const changes = new TagChanges()
      await this.writes.writeTag(repoId, tag, version.manifest_id, now, changes)
      await this.meta.touchRepo(repoId, now)
      const moved = await this.writes.settle(repoId, changes, now)
      await this.meta.appendEvent({ at: now, actor, action: 'tag', repository: name, tag, oldDigest: null, newDigest: version.archive_digest, forced: false, message: null })
      await this.writes.notifyManifest('push', name, version.manifest_id, actor, tag, packDetail(name, version, tag, moved))
      return 'created' as const
    })
    return { status, tag: await this.views.tag(name, tag) }
  }

  /**
   * Deletes a version named by its version tag or a digest. A parent tag or an alias moves
   * (or may be moved by someone else), so a destructive call refuses them and names the
   * version tag to use instead. The version tag is the one the push gave it, `[group__]version`,
   * semantic or not: `1.2.3.4` or `latest` as a version is stored as an alias kind (no parent
   * tags) but is still that version's own tag.
   */
  async deleteVersion(name: string, ref: string, actor: string): Promise<{ version: PackVersionRow; tags: string[] }> {
    this.writes.requireDeletes()
    // Resolved and deleted in one transaction: two deletes of one version cannot both happen.
    return await this.meta.transaction(() => this.deleteResolvedVersion(name, ref, actor))
  }

  private async deleteResolvedVersion(name: string, ref: string, actor: string): Promise<{ version: PackVersionRow; tags: string[] }> {
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
    const tags = await this.writes.deleteManifestAndTags(name, repoId, version.manifest_id, version.archive_digest, actor)
    return { version, tags }
  }

  /** Publishes a received pack (see PackWrites.commit): one transaction, or nothing. */
  async commit(r: ReceivedPack, options: PublishOptions): Promise<PublishResult> {
    return await this.writes.commit(r, options)
  }

  /** Deletes a tag; a parent tag is refused as TAG_PROTECTED. */
  async deleteTag(name: string, tag: string, actor: string): Promise<TagRow> {
    return await this.writes.deleteTag(name, tag, actor, 'TAG_PROTECTED')
  }
}
