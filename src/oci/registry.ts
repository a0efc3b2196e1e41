// The OCI distribution API's content side, behind the /v2 routes: manifests (read, push with
// every reference checked, delete), tags, blobs (read, delete), referrers and the catalog.
// Names under the pack namespace resolve to pack repositories for reads; writes there go to
// the PackOciBridge. Throws typed errors with the spec's codes; knows nothing of HTTP.

import type { Readable } from 'node:stream'
import { RegistryError } from '../errors.js'
import type { Database } from '../meta/database.js'
import type { ManifestRow } from '../meta/manifests.js'
import { type BlobRow, OciMeta } from '../meta/oci.js'
import { fetchPage, type Page, type PageRequest } from '../pages.js'
import { assertDigest } from '../store/digest.js'
import type { BlobStore, ByteRange } from '../store/types.js'
import { parseManifest } from './manifests.js'
import { locateRepository, parseReference, type RepositoryLocator } from './names.js'
import type { ManifestOutcome, PackOciBridge } from './pack-bridge.js'
import type { OutboxDraft } from '../meta/outbox.js'

export interface OciRegistrySettings {
  namespace: string
  /** The pack name rule, for names under the namespace (throws NAME_INVALID). */
  checkPackName: (name: string) => void
  pageSize: number
  deleteEnabled: boolean
  /** Told of every manifest GET, for its pull event (absent: no endpoint listens). */
  onPull?: (draft: OutboxDraft) => void
}

export interface ReferrerDescriptor {
  mediaType: string
  digest: string
  size: number
  artifactType?: string
  annotations?: Record<string, string>
}

export interface PushedManifest {
  digest: string
  /** The subject's digest, for the OCI-Subject header. */
  subject: string | null
  outcome: ManifestOutcome
  /** Bytes of the manifest and of the blobs and manifests it refers to directly. */
  size: number
}

export class OciRegistry {
  private readonly meta: OciMeta

  constructor(
    db: Database,
    private readonly store: BlobStore,
    private readonly settings: OciRegistrySettings,
    private readonly bridge: PackOciBridge | undefined,
  ) {
    this.meta = new OciMeta(db)
  }

  /** Validates an OCI name and says which stored repository it means. */
  locate(name: string): RepositoryLocator {
    return locateRepository(name, this.settings.namespace, this.settings.checkPackName)
  }

  /** A pack repository by its pack name (how /v1 names repositories). */
  locatePack(name: string): RepositoryLocator {
    this.settings.checkPackName(name)
    return { kind: 'pack', name, oci: `${this.settings.namespace}/${name}` }
  }

  private async repositoryId(repo: RepositoryLocator): Promise<number> {
    const id = await this.meta.repositoryId(repo)
    if (id === null) throw new RegistryError('NAME_UNKNOWN', `repository ${repo.oci} is not known to this registry`, { name: repo.oci })
    return id
  }

  private paged<T>(request: PageRequest, key: (item: T) => string, query: (after: string, limit: number) => Promise<T[]>): Promise<Page<T>> {
    return fetchPage(request, this.settings.pageSize, key, query)
  }

  // ---- reads

  /** A manifest by tag (any tag kind, parent tags included) or by digest. */
  async manifest(repo: RepositoryLocator, reference: string): Promise<ManifestRow> {
    const ref = parseReference(reference)
    const id = await this.repositoryId(repo)
    const row = ref.kind === 'digest' ? await this.meta.manifestByDigest(id, ref.digest) : await this.meta.manifestByTag(id, ref.tag)
    if (!row) throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference} is not in ${repo.oci}`, { name: repo.oci, reference })
    return row
  }

  /** A manifest was fetched with GET: its pull event, as distribution sends one. */
  pulled(repo: RepositoryLocator, reference: string, manifest: ManifestRow, actor: string): void {
    const ref = parseReference(reference)
    this.settings.onPull?.({
      action: 'pull',
      actor,
      repository: repo,
      mediaType: manifest.media_type,
      size: manifest.size,
      digest: manifest.digest,
      tag: ref.kind === 'tag' ? ref.tag : null,
    })
  }

  /** A blob the repository may serve (its link and its bytes). */
  async blob(repo: RepositoryLocator, digest: string): Promise<BlobRow> {
    assertDigest(digest)
    const row = await this.meta.blob(await this.repositoryId(repo), digest)
    // The link alone is not enough: the bytes must still be in the store.
    if (!row || !(await this.store.stat(digest))) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in ${repo.oci}`, { name: repo.oci, digest })
    return row
  }

  openBlob(digest: string, range?: ByteRange): Promise<Readable> {
    return this.store.open(digest, range)
  }

  /** Tags in byte order; the parent tags (1.x, 1.0.x) of a pack repository when `withParents`. */
  async tags(repo: RepositoryLocator, request: PageRequest, withParents: boolean): Promise<Page<string>> {
    const id = await this.repositoryId(repo)
    return this.paged(request, (t) => t, (after, limit) => this.meta.tags(id, { after, limit }, withParents))
  }

  /** Every repository by OCI name, packs under the namespace. */
  catalog(request: PageRequest): Promise<Page<string>> {
    return this.paged(request, (r) => r, (after, limit) => this.meta.catalog(this.settings.namespace, { after, limit }))
  }

  /** The manifests of the repository whose subject is `digest`, as an OCI index. */
  async referrers(repo: RepositoryLocator, digest: string, artifactType: string | null, request: PageRequest): Promise<Page<ReferrerDescriptor>> {
    assertDigest(digest)
    if (request.last !== undefined) assertDigest(request.last)
    const id = await this.repositoryId(repo)
    return this.paged(
      request,
      (d) => d.digest,
      async (after, limit) => (await this.meta.referrers(id, digest, artifactType, { after, limit })).map(referrerDescriptor),
    )
  }

  // ---- writes

  /** Stores a manifest under a tag or its digest; packs go to the bridge. */
  async putManifest(repo: RepositoryLocator, reference: string, body: Buffer, contentType: string | undefined, actor: string): Promise<PushedManifest> {
    const bridge = this.bridgeFor(repo, 'push manifests to')
    const ref = parseReference(reference)
    const parsed = parseManifest(body, contentType)
    if (ref.kind === 'digest' && ref.digest !== parsed.digest) {
      throw new RegistryError('DIGEST_INVALID', `the manifest's digest is ${parsed.digest}, not ${ref.digest} as in the URL`, { expected: ref.digest, actual: parsed.digest })
    }
    const subject = parsed.subject?.digest ?? null
    const size = [...parsed.blobs, ...parsed.manifests].reduce((sum, ref) => sum + ref.size, body.length)
    if (bridge) {
      const stored = await bridge.putManifest(repo.name, reference, body, parsed, actor)
      return { digest: stored.digest, subject, outcome: stored.outcome, size }
    }
    const result = await this.meta.putManifest(
      repo,
      {
        digest: parsed.digest,
        mediaType: parsed.mediaType,
        artifactType: parsed.artifactType,
        content: body,
        subjectDigest: subject,
        blobs: parsed.blobs,
        manifests: parsed.manifests,
      },
      ref.kind === 'tag' ? ref.tag : null,
      { actor, repository: repo.oci, now: Date.now() },
    )
    if (!result.ok) {
      const missing = result.problems.filter((p) => p.actualSize === null)
      const first = result.problems[0] as (typeof result.problems)[number]
      if (missing.length > 0) {
        const m = missing[0] as (typeof missing)[number]
        throw new RegistryError(
          'MANIFEST_BLOB_UNKNOWN',
          `the manifest refers to ${m.kind} ${m.digest}, which is not in ${repo.oci}${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}; push ${m.kind === 'blob' ? 'blobs' : 'child manifests'} first`,
          { missing: missing.map((p) => ({ kind: p.kind, digest: p.digest })) },
        )
      }
      throw new RegistryError('MANIFEST_INVALID', `manifest invalid: it declares ${first.kind} ${first.digest} as ${first.declaredSize} bytes, but it has ${first.actualSize}`, {
        digest: first.digest,
        declaredSize: first.declaredSize,
        actualSize: first.actualSize,
      })
    }
    return { digest: parsed.digest, subject, outcome: result.outcome, size }
  }

  /** By digest: the manifest and its tags. By tag: only the tag. */
  async deleteManifest(repo: RepositoryLocator, reference: string, actor: string): Promise<void> {
    this.requireDelete()
    const bridge = this.bridgeFor(repo, 'delete manifests or tags in')
    const ref = parseReference(reference)
    if (bridge) {
      if (ref.kind === 'digest') await bridge.deleteManifest(repo.name, ref.digest, actor)
      else await bridge.deleteTag(repo.name, ref.tag, actor)
      return
    }
    const id = await this.repositoryId(repo)
    const log = { actor, repository: repo.oci, now: Date.now() }
    const found = ref.kind === 'digest' ? (await this.meta.deleteManifest(repo, id, ref.digest, log)) !== null : await this.meta.deleteTag(repo, id, ref.tag, log)
    if (!found) throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference} is not in ${repo.oci}`, { name: repo.oci, reference })
  }

  /** Unlinks a blob from the repository; garbage collection reclaims unreferenced bytes. */
  async deleteBlob(repo: RepositoryLocator, digest: string, actor: string): Promise<void> {
    this.requireDelete()
    if (repo.kind === 'pack') {
      throw new RegistryError('UNSUPPORTED', `blobs of packs cannot be deleted one by one; delete the pack version and garbage collection reclaims its blobs`, { name: repo.oci })
    }
    assertDigest(digest)
    const id = await this.repositoryId(repo)
    if (!(await this.meta.unlinkBlob(repo, id, digest, { actor, repository: repo.oci, now: Date.now() }))) {
      throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in ${repo.oci}`, { name: repo.oci, digest })
    }
  }

  private requireDelete(): void {
    if (!this.settings.deleteEnabled) {
      throw new RegistryError('UNSUPPORTED', 'deleting is disabled on this registry (storage.delete.enabled: false)')
    }
  }

  /** The bridge for a write into a pack repository (405 without one); undefined for OCI repositories. */
  private bridgeFor(repo: RepositoryLocator, what: string): PackOciBridge | undefined {
    if (repo.kind === 'oci') return undefined
    if (!this.bridge) {
      throw new RegistryError('UNSUPPORTED', `this registry cannot ${what} ${this.settings.namespace}/: pack publishing over /v2 is not available; push packs with the /v1 API`, {
        name: repo.oci,
      })
    }
    return this.bridge
  }
}

function referrerDescriptor(row: ManifestRow): ReferrerDescriptor {
  const descriptor: ReferrerDescriptor = { mediaType: row.media_type, digest: row.digest, size: row.size }
  if (row.artifact_type !== null) descriptor.artifactType = row.artifact_type
  const annotations = (JSON.parse(row.content.toString('utf8')) as { annotations?: unknown }).annotations
  if (annotations && typeof annotations === 'object') descriptor.annotations = annotations as Record<string, string>
  return descriptor
}
