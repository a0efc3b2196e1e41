// The query side of packs: what the /v1 pack routes (and the pack browser) show, in the API's own
// shapes. Rows become views here and nowhere else, so a route only parses its request and picks
// the view; the rules for what a tag "is" (its parent tags, its version) come from the pure
// modules beside this one.

import { RegistryError } from '../errors.js'
import type { Readable } from 'node:stream'
import type { EventRow } from '../meta/events.js'
import type { PackMeta, PackVersionRow, TagRow } from '../meta/packs.js'
import { fetchPage, type Page, type PageRequest } from '../pages.js'
import { assertDigest } from '../store/digest.js'
import type { BlobInfo, BlobStore, ByteRange } from '../store/types.js'
import { validatePackName } from './names.js'
import { archiveFileName } from './oras-manifest.js'
import type { PackProblem } from './pack-json.js'
import { parseTag } from './tags.js'

export interface TagView {
  tag: string
  group: string | null
  label: string
  /** A tag on something that is not a pack (an opaque artifact) is of kind artifact. */
  kind: TagRow['kind'] | 'artifact'
  version: string
  digest: string
  manifestDigest: string
  parentTags: string[]
  updatedAt: string
}

/**
 * A pack's header: the one shape every surface shows of a pack (GET /v1/_packs and its stored
 * listing, GET /v1/_packs/NAME, the pack browser's list and pack page), made by packHeader().
 */
export interface PackHeader {
  name: string
  displayName: string
  layer: string
  addonType: string | null
  addonSubType: string | null
  cloudTypes: string[]
  logoUrl: string | null
  updatedAt: string
}

/** A pack as GET /v1/_packs lists it: its header and its tags (stored: see listPacks). */
export interface PackListItem extends PackHeader {
  tags: TagView[]
}

export interface VersionSummaryView {
  version: string
  group: string | null
  digest: string
  manifestDigest: string
  contentDigest: string
  tags: string[]
  pushedAt: string
  pushedBy: string
  packJson: object
  values: string
  readme: string | null
  presets: string | null
  schema: string | null
}

/** A pack as GET /v1/_packs/NAME shows it: its header, a page of its tags, its versions. */
export interface PackDetailView extends PackHeader {
  /** A page of the pack's tags (every kind), by name. */
  tags: TagView[]
  /** How many tags the pack has, on every page. */
  tagCount: number
  versions: VersionSummaryView[]
}

export interface HistoryView {
  at: string
  actor: string
  action: string
  tag: string | null
  oldDigest: string | null
  newDigest: string | null
  forced: boolean
  message: string | null
}

export interface VersionDetailView {
  name: string
  version: string
  group: string | null
  digest: string
  manifestDigest: string
  contentDigest: string
  size: number
  unpackedSize: number
  packJson: object
  files: Record<string, BlobInfo>
  /** A page of the tags on this version, by name. */
  tags: TagView[]
  /** How many tags the version has, on every page. */
  tagCount: number
  pushedAt: string
  pushedBy: string
  message: string | null
  /** The validation warnings it was accepted with. */
  warnings: PackProblem[]
  history: HistoryView[]
}

/** A pack version found by a tag (of any kind) or a digest (archive or manifest). */
export interface ResolvedVersion {
  repoId: number
  version: PackVersionRow
  /** The tag the reference named, when it was a tag. */
  tag: TagRow | null
}

export interface PackListFilter {
  name?: string | undefined
  layer?: string | undefined
}

const iso = (ms: number) => new Date(ms).toISOString()

/** A listing filter as asked: empty is none; NUL left out (no stored text holds one: PostgreSQL's text cannot). */
function withoutNul(value: string | undefined): string | null {
  return value?.replaceAll('\u0000', '') || null
}

/** What a PackHeader is made from: the latest-pushed version's row, all null for a repository of artifacts only. */
export interface PackHeaderRow {
  display_name: string | null
  layer: string | null
  pack_json: string | null
  files: string | null
  updated_at: number
}

/** The logo files a version may serve, the first present wins, with the type its URL asks for. */
const LOGO_FILES = [
  { file: 'logo.png', type: 'image/png' },
  { file: 'logo.webp', type: 'image/webp' },
] as const

/** The logo a version serves (the first of LOGO_FILES it has), with the type its URL asks for. */
export function logoOf(files: Record<string, BlobInfo>): { type: string; blob: BlobInfo } | undefined {
  for (const { file, type } of LOGO_FILES) if (files[file] !== undefined) return { type, blob: files[file] }
  return undefined
}

/** The files a version serves on its own (pack.json, values.yaml, logo.png or logo.webp, ...). */
export function filesOf(version: PackVersionRow): Record<string, BlobInfo> {
  return JSON.parse(version.files) as Record<string, BlobInfo>
}

/** A tag as the API shows it; `parentTags` are the parent tags following it (version tags only). */
export function tagView(t: TagRow, parentTags: string[]): TagView {
  return {
    tag: t.name,
    group: t.group_name,
    label: t.label,
    kind: t.archive_digest === null && t.kind !== 'parent' ? 'artifact' : t.kind,
    version: t.kind === 'version' ? t.label : (t.version ?? t.label),
    // A pack is pulled by its archive; an artifact only by its manifest.
    digest: t.archive_digest ?? t.manifest_digest,
    manifestDigest: t.manifest_digest,
    parentTags,
    updatedAt: iso(t.updated_at),
  }
}

/**
 * A pack's header, the one every surface shows (GET /v1/_packs/NAME, the stored listing of
 * GET /v1/_packs, the pack browser), from its latest-pushed version; a repository of artifacts
 * only is shown by its name. A pack accepted with warnings may hold anything in pack.json, so
 * each field is made the type the API schemas promise: a string cloudTypes is a list of one, any
 * other non-list no cloud types, non-string entries and addon types are left out.
 */
export function packHeader(name: string, row: PackHeaderRow): PackHeader {
  if (row.display_name === null || row.layer === null || row.pack_json === null || row.files === null) {
    return { name, displayName: name, layer: '', addonType: null, addonSubType: null, cloudTypes: [], logoUrl: null, updatedAt: iso(row.updated_at) }
  }
  const pack = JSON.parse(row.pack_json) as Record<string, unknown>
  const files = JSON.parse(row.files) as Record<string, BlobInfo>
  const logo = logoOf(files)
  return {
    name,
    displayName: row.display_name,
    layer: row.layer,
    addonType: stringOrNull(pack.addonType),
    addonSubType: stringOrNull(pack.addonSubType),
    cloudTypes: cloudTypesOf(pack.cloudTypes),
    logoUrl: logo ? `/v1/${name}/blobs/${logo.blob.digest}?type=${logo.type}` : null,
    updatedAt: iso(row.updated_at),
  }
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null
}

function cloudTypesOf(value: unknown): string[] {
  if (typeof value === 'string') return [value]
  return Array.isArray(value) ? value.filter((c): c is string => typeof c === 'string') : []
}

/** The header row of a repository without a pack version. */
export const NO_VERSION = { display_name: null, layer: null, pack_json: null, files: null } as const

export function historyView(e: EventRow): HistoryView {
  return {
    at: iso(e.at),
    actor: e.actor,
    action: e.action,
    tag: e.tag,
    oldDigest: e.old_digest,
    newDigest: e.new_digest,
    forced: e.forced === 1,
    message: e.message,
  }
}

export class PackViews {
  constructor(
    private readonly meta: PackMeta,
    private readonly store: BlobStore,
    private readonly maxPageSize: number,
  ) {}

  /** The pack repository's id; NAME_UNKNOWN when there is no such pack. */
  async repoId(name: string): Promise<number> {
    validatePackName(name)
    const repo = await this.meta.repoByName(name)
    if (!repo) throw new RegistryError('NAME_UNKNOWN', `there is no pack named ${name} in this registry`, { name })
    return repo.id
  }

  async resolve(name: string, ref: string): Promise<ResolvedVersion> {
    const repoId = await this.repoId(name)
    if (ref.includes(':')) {
      assertDigest(ref)
      const version = await this.meta.versionByDigest(repoId, ref)
      if (!version) throw new RegistryError('MANIFEST_UNKNOWN', `${name} has no version with digest ${ref}`, { name, digest: ref })
      return { repoId, version, tag: null }
    }
    parseTag(ref)
    const tag = await this.meta.tag(repoId, ref)
    if (!tag) throw new RegistryError('TAG_UNKNOWN', `${name} has no tag ${ref}`, { name, tag: ref })
    const version = await this.meta.version(tag.manifest_id)
    if (!version) {
      throw new RegistryError('MANIFEST_UNKNOWN', `${name}:${ref} is an artifact a distribution client pushed, not a pack version; read it at /v1/${name}/manifests/${ref}`, {
        name,
        tag: ref,
        digest: tag.manifest_digest,
      })
    }
    return { repoId, version, tag }
  }

  catalog(request: PageRequest): Promise<Page<string>> {
    return fetchPage(request, this.maxPageSize, (name: string) => name, (after, limit) => this.meta.catalog(after, limit))
  }

  /**
   * A page of packs as UTF-8 JSON (PackListItem), each joined from its stored header and the
   * stored views of its tags: read, not computed, so a page of 1,000 packs costs one index
   * range read and the tags' index.
   */
  async listPacks(filter: PackListFilter, request: PageRequest): Promise<Page<Buffer>> {
    type Listing = { name: string; header: string; tags: string | null }
    const page = await fetchPage(request, this.maxPageSize, (row: Listing) => row.name, (after, limit) =>
      this.meta.listings({ name: withoutNul(filter.name), layer: withoutNul(filter.layer), last: after, limit }),
    )
    return { ...page, items: page.items.map((row) => Buffer.from(`${row.header.slice(0, -1)},"tags":[${row.tags ?? ''}]}`)) }
  }

  /**
   * The header GET /v1/_packs lists for a pack (its tags are stored with each tag), computed
   * inside every transaction that changes the pack; null when the repository holds no pack
   * version.
   */
  async headerOf(repoId: number): Promise<{ name: string; layer: string; json: string } | null> {
    const summary = await this.meta.packSummary(repoId)
    if (!summary) return null
    return { name: summary.name, layer: summary.layer, json: JSON.stringify(packHeader(summary.name, summary)) }
  }

  /** A page of a pack's tag rows (every kind) by name. */
  private tagRows(repoId: number, request: PageRequest): Promise<Page<TagRow>> {
    return fetchPage(request, this.maxPageSize, (t: TagRow) => t.name, (after, limit) => this.meta.tagPage(repoId, after, limit))
  }

  /** Tags as stored with them, in order. */
  private async tagViewsOf(repoId: number, rows: TagRow[]): Promise<TagView[]> {
    const views: TagView[] = []
    for (const row of rows) views.push(await this.tagViewOf(repoId, row))
    return views
  }

  /** A tag as stored with it (every tag of a pack repository has its view). */
  private async tagViewOf(repoId: number, row: TagRow): Promise<TagView> {
    if (row.view !== null) return JSON.parse(row.view) as TagView
    return tagView(row, row.kind === 'version' ? await this.meta.parentsFollowing(repoId, row.name) : [])
  }

  /**
   * A pack with a page of its tags (`request`: n and last, by tag name) and every version. A
   * pack repository that holds only artifacts (pushed by a distribution client, not packs)
   * shows its tags, of kind artifact, and no versions.
   */
  async packDetail(name: string, request: PageRequest = {}): Promise<Page<TagView> & { detail: PackDetailView }> {
    const repoId = await this.repoId(name)
    const summary = await this.meta.packSummary(repoId)
    const tagCount = await this.meta.tagCount(repoId)
    // Blobs uploaded ahead of a manifest make a repository, not a pack.
    if (!summary && tagCount === 0) throw new RegistryError('NAME_UNKNOWN', `there is no pack named ${name} in this registry`, { name })
    const header = packHeader(name, summary ?? { ...NO_VERSION, updated_at: (await this.meta.repoByName(name))?.updated_at ?? 0 })
    const tags = await this.tagRows(repoId, request)
    const versions = await Promise.all(
      (await this.meta.versionsOf(repoId)).map(async (v) => {
        const files = filesOf(v)
        return {
          version: v.version,
          group: v.group_name,
          digest: v.archive_digest,
          manifestDigest: v.manifest_digest,
          contentDigest: v.content_digest,
          tags: (await this.meta.tagRowsOfManifest(v.manifest_id)).map((t) => t.name),
          pushedAt: iso(v.pushed_at),
          pushedBy: v.pushed_by,
          packJson: JSON.parse(v.pack_json) as object,
          values: (await this.text(files['values.yaml'])) ?? '',
          readme: await this.text(files['README.md']),
          presets: await this.text(files['presets.yaml']),
          schema: await this.text(files['schema.yaml']),
        }
      }),
    )
    const views = await this.tagViewsOf(repoId, tags.items)
    return { ...tags, items: views, detail: { ...header, tags: views, tagCount, versions } }
  }

  /** A version with a page of its tags (`request`: n and last, by tag name). */
  async versionDetail(name: string, ref: string, request: PageRequest = {}): Promise<Page<TagView> & { detail: VersionDetailView }> {
    const { repoId, version } = await this.resolve(name, ref)
    const mine = await this.meta.tagRowsOfManifest(version.manifest_id)
    const userTags = mine.filter((t) => t.kind !== 'parent').map((t) => t.name)
    const tags = await fetchPage(request, this.maxPageSize, (t: TagRow) => t.name, (after, limit) => mine.filter((t) => t.name > after).slice(0, limit))
    const views = await this.tagViewsOf(repoId, tags.items)
    const detail: VersionDetailView = {
      name,
      version: version.version,
      group: version.group_name,
      digest: version.archive_digest,
      manifestDigest: version.manifest_digest,
      contentDigest: version.content_digest,
      size: version.archive_size,
      unpackedSize: version.unpacked_size,
      packJson: JSON.parse(version.pack_json) as object,
      files: filesOf(version),
      tags: views,
      tagCount: mine.length,
      pushedAt: iso(version.pushed_at),
      pushedBy: version.pushed_by,
      message: version.message,
      warnings: JSON.parse(version.warnings) as PackProblem[],
      history: (await this.meta.history(name, userTags, version.archive_digest)).map(historyView),
    }
    return { ...tags, items: views, detail }
  }

  /** A page of a pack's tags (every kind) by name, and how many it has. */
  async tagPage(name: string, request: PageRequest): Promise<Page<TagView> & { tagCount: number }> {
    const repoId = await this.repoId(name)
    const page = await this.tagRows(repoId, request)
    return { ...page, items: await this.tagViewsOf(repoId, page.items), tagCount: await this.meta.tagCount(repoId) }
  }

  /** One tag of a pack as the API shows it. */
  async tag(name: string, tag: string): Promise<TagView> {
    const repoId = await this.repoId(name)
    const row = await this.meta.tag(repoId, tag)
    if (!row) throw new RegistryError('TAG_UNKNOWN', `${name} has no tag ${tag}`, { name, tag })
    return this.tagViewOf(repoId, row)
  }

  /** What a pull of the archive sends. */
  async archive(name: string, ref: string): Promise<BlobInfo & { fileName: string }> {
    const { version } = await this.resolve(name, ref)
    return { digest: version.archive_digest, size: version.archive_size, fileName: archiveFileName(name, version.version) }
  }

  /** One of the files a version serves on its own. */
  async file(name: string, ref: string, path: string): Promise<BlobInfo> {
    const files = filesOf((await this.resolve(name, ref)).version)
    const entry = files[path]
    if (!entry) {
      throw new RegistryError('FILE_UNKNOWN', `${path} is not served on its own; files served are ${Object.keys(files).sort().join(', ')} (download the archive for the rest)`, { path })
    }
    return entry
  }

  open(digest: string, range?: ByteRange): Promise<Readable> {
    return this.store.open(digest, range)
  }

  private async text(entry: BlobInfo | undefined): Promise<string | null> {
    if (!entry) return null
    const chunks: Buffer[] = []
    for await (const chunk of await this.store.open(entry.digest)) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }
}
