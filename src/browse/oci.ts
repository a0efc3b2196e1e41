// The pack browser's questions about OCI content that is not a pack (Helm charts, images,
// artifacts pushed to /v2 outside the pack namespace): the repositories with their tag and
// manifest counts and sizes, paged both ways; one repository's tags with what each points at
// (digest, media type, artifact type, size, an index's platforms) and the referrers of each
// (signatures, SBOMs), plus the manifests only a digest reaches. Knows nothing of HTML.

import { RegistryError } from '../errors.js'
import { isJsonObject } from '../json.js'
import type { BrowseMeta, OciManifestRow, OciRepositoryRow, OciTagRow } from '../meta/browse.js'
import { DOCKER_LIST, OCI_INDEX } from '../oci/manifests.js'
import type { RepositoryLocator } from '../oci/names.js'
import { fetchPage, fetchTwoWayPage, type Page, type PageRequest, type TwoWayPage, type TwoWayPageRequest } from '../pages.js'

export interface OciBrowserSettings {
  maxPageSize: number
  defaultPageSize: number
  /** untagged manifests listed on a repository's page */
  maxUntagged: number
}

export interface OciRepositoryView {
  name: string
  tags: number
  manifests: number
  /** bytes of the blobs linked to the repository */
  bytes: number
  updatedAt: string
}

export interface OciRepositoryList extends TwoWayPage<OciRepositoryView> {
  total: number
}

export interface ManifestView {
  digest: string
  mediaType: string
  artifactType: string | null
  /** the manifest's bytes; for a tag's manifest, plus the blobs it names (config and layers) */
  size: number
  createdAt: string
}

export interface IndexChildView {
  digest: string
  mediaType: string | null
  size: number | null
  platform: string | null
}

export interface OciTagView extends ManifestView {
  tag: string
  updatedAt: string
  /** the manifests of an index (platforms), empty otherwise */
  children: IndexChildView[]
  referrers: ManifestView[]
}

export type OciRepositoryPage =
  | { kind: 'pack'; name: string }
  | { kind: 'oci'; repository: OciRepositoryView; tags: Page<OciTagView>; untagged: ManifestView[] }

const INDEX_TYPES = [OCI_INDEX, DOCKER_LIST]
const iso = (ms: number) => new Date(ms).toISOString()

function repositoryView(row: OciRepositoryRow): OciRepositoryView {
  return { name: row.name, tags: row.tags, manifests: row.manifests, bytes: row.bytes, updatedAt: iso(row.updated_at) }
}

function manifestView(row: OciManifestRow): ManifestView {
  return { digest: row.digest, mediaType: row.media_type, artifactType: row.artifact_type, size: row.size, createdAt: iso(row.created_at) }
}

/** The platforms an index lists (`linux/arm64/v8`); what the index says, as it says it. */
function indexChildren(content: Buffer | null): IndexChildView[] {
  if (content === null) return []
  let parsed: unknown
  try {
    parsed = JSON.parse(content.toString('utf8'))
  } catch {
    return []
  }
  const manifests = isJsonObject(parsed) && Array.isArray(parsed.manifests) ? parsed.manifests : []
  return manifests.filter(isJsonObject).map((m) => {
    const platform = isJsonObject(m.platform) ? [m.platform.os, m.platform.architecture, m.platform.variant].filter((p) => typeof p === 'string' && p !== '').join('/') : ''
    return {
      digest: typeof m.digest === 'string' ? m.digest : '',
      mediaType: typeof m.mediaType === 'string' ? m.mediaType : null,
      size: typeof m.size === 'number' ? m.size : null,
      platform: platform === '' ? null : platform,
    }
  })
}

export class OciBrowser {
  constructor(
    private readonly browse: BrowseMeta,
    /** the registry's rule for what an OCI name stands for (a pack under the namespace, or not) */
    private readonly locate: (name: string) => RepositoryLocator,
    private readonly settings: OciBrowserSettings,
  ) {}

  async repositories(request: TwoWayPageRequest & { q?: string | undefined }): Promise<OciRepositoryList> {
    const q = request.q?.trim() ? request.q.trim().toLowerCase() : null
    const page = await fetchTwoWayPage(
      { n: request.n ?? this.settings.defaultPageSize, after: request.after || undefined, before: request.before || undefined },
      this.settings.maxPageSize,
      (row: OciRepositoryRow) => row.name,
      (direction, key, limit) => this.browse.ociRepositories(q, direction, key, limit),
    )
    return { ...page, items: page.items.map(repositoryView), total: await this.browse.ociRepositoryCount(q) }
  }

  /** A repository's page, or where the pack it names is when it is under the pack namespace. */
  async repository(name: string, request: PageRequest): Promise<OciRepositoryPage> {
    const located = this.locate(name)
    if (located.kind === 'pack') return { kind: 'pack', name: located.name }
    const row = await this.browse.ociRepository(located.name)
    if (!row || row.manifests === 0) throw new RegistryError('NAME_UNKNOWN', `repository ${name} is not known to this registry`, { name })
    const tagRows = await fetchPage<OciTagRow>(
      { n: request.n ?? this.settings.defaultPageSize, last: request.last || undefined },
      this.settings.maxPageSize,
      (t) => t.tag,
      (after, limit) => this.browse.ociTags(row.id, after === '' ? null : after, limit, INDEX_TYPES),
    )
    const referrers = await this.browse.referrersOf(row.id, [...new Set(tagRows.items.map((t) => t.digest))])
    const tags = {
      ...tagRows,
      items: tagRows.items.map((t) => ({
        tag: t.tag,
        updatedAt: iso(t.updated_at),
        digest: t.digest,
        mediaType: t.media_type,
        artifactType: t.artifact_type,
        size: t.size + t.blob_bytes,
        createdAt: iso(t.created_at),
        children: indexChildren(t.index_content),
        referrers: referrers.filter((r) => r.subject_digest === t.digest).map(manifestView),
      })),
    }
    const untagged = await this.browse.untaggedManifests(row.id, this.settings.maxUntagged)
    return { kind: 'oci', repository: repositoryView(row), tags, untagged: untagged.map(manifestView) }
  }
}
