// The pack browser's questions about packs: the listing with its filters (name or display
// name, layer, cloud type), its two orders (name, last change) and paging both ways; and one
// pack as a person looks at it: versions by group, newest first, with their tags and the
// parent tags pointing at them; the selected version's details (from the pack views, the
// same answer as GET /v1/_packs/NAME/REF), its served files as text and the list of files in
// its archive. Knows nothing of HTML.

import { RegistryError } from '../errors.js'
import { LruMap } from '../lru.js'
import type { BrowseMeta, PackCursor, PackFilterParams, PackSort } from '../meta/browse.js'
import type { PackMeta, PackSummaryRow, PackVersionRow, TagRow } from '../meta/packs.js'
import { fetchTwoWayPage, type TwoWayPage } from '../pages.js'
import type { BlobInfo } from '../store/types.js'
import { type ArchiveLimits, readPackArchive } from './archive-read.js'
import { archiveFileName } from './oras-manifest.js'
import { groupVersions, newestVersion, type VersionGroup } from './version-order.js'
import { packHeader, type PackHeaderView, parentTagsFor, type PackViews, type VersionDetailView } from './views.js'

export interface PackBrowserSettings {
  /** the largest page of the listing (the default page is smaller) */
  maxPageSize: number
  defaultPageSize: number
  archive: ArchiveLimits
  /** archives larger than this are not unpacked to list their files */
  maxListedArchiveBytes: number
  /** at most this many files of an archive are listed */
  maxListedFiles: number
  /** served files (README.md, values.yaml, ...) are shown up to this size */
  maxShownFileBytes: number
}

export interface PackListRequest {
  q?: string | undefined
  layer?: string | undefined
  cloud?: string | undefined
  sort?: PackSort | undefined
  n?: number | undefined
  after?: string | undefined
  before?: string | undefined
}

export interface PackListEntry extends PackHeaderView {
  newest: { version: string; group: string | null; tag: string } | null
  versions: number
  tags: number
}

export interface PackListPage extends TwoWayPage<PackListEntry> {
  sort: PackSort
  /** packs matching the filters, over all pages */
  total: number
  /** layers present in the registry, for the filter */
  layers: string[]
}

export interface VersionEntry {
  manifestId: number
  version: string
  group: string | null
  /** the tag (or digest) that names this version in a link */
  ref: string
  digest: string
  /** user tags: the version tag and aliases */
  tags: string[]
  /** parent tags pointing at this version */
  parentTags: string[]
  pushedAt: string
  written: number
  selected: boolean
}

export interface ShownFile {
  text: string
  size: number
  digest: string
  /** only the first maxShownFileBytes are in `text` */
  truncated: boolean
}

export type ArchiveListing =
  | { kind: 'listed'; files: Array<{ path: string; size: number }>; total: number; unpackedSize: number }
  | { kind: 'too-large'; size: number; limit: number }
  | { kind: 'unreadable'; reason: string }

export interface PackPage {
  pack: PackHeaderView
  groups: VersionGroup<VersionEntry>[]
  /** every parent tag and the tag it points at */
  parentTags: Array<{ tag: string; target: string }>
  selected: VersionDetailView
  /** the ref the page was asked for; null for the default (newest) version */
  ref: string | null
  archiveFileName: string
  files: { readme: ShownFile | null; values: ShownFile | null; presets: ShownFile | null; schema: ShownFile | null }
  archive: ArchiveListing
}

const SHOWN_FILES = { readme: 'README.md', values: 'values.yaml', presets: 'presets.yaml', schema: 'schema.yaml' } as const

const CHANGED_CURSOR = /^(\d{1,15}):([a-z0-9._-]{1,128})$/

function badCursor(which: string): RegistryError {
  return new RegistryError('BAD_REQUEST', `${which} is not a position in this listing; follow the Next and Previous links, or start again from the first page`, { [which]: true })
}

function blankToNull(value: string | undefined): string | null {
  const trimmed = value?.trim() ?? ''
  return trimmed === '' ? null : trimmed
}

function versionTagsByManifest(tags: TagRow[]): Map<number, TagRow[]> {
  const out = new Map<number, TagRow[]>()
  for (const t of tags) {
    const list = out.get(t.manifest_id)
    if (list) list.push(t)
    else out.set(t.manifest_id, [t])
  }
  return out
}

export class PackBrowser {
  /** Archive listings by digest: an archive never changes under its digest. */
  private readonly listings = new LruMap<string, ArchiveListing>(64)

  constructor(
    private readonly browse: BrowseMeta,
    private readonly packs: PackMeta,
    private readonly views: PackViews,
    private readonly settings: PackBrowserSettings,
  ) {}

  listPacks(request: PackListRequest): PackListPage {
    const sort = request.sort ?? 'name'
    const filter: PackFilterParams = {
      q: blankToNull(request.q)?.toLowerCase() ?? null,
      layer: blankToNull(request.layer),
      cloud: blankToNull(request.cloud),
    }
    const parse = (which: string, value: string): PackCursor => {
      if (sort === 'name') return { name: value, at: 0 }
      const m = CHANGED_CURSOR.exec(value)
      if (!m) throw badCursor(which)
      return { at: Number(m[1]), name: m[2] as string }
    }
    const after = blankToNull(request.after) ?? undefined
    const before = blankToNull(request.before) ?? undefined
    if (after !== undefined && before !== undefined) throw new RegistryError('BAD_REQUEST', 'ask for the page after or before a pack, not both')
    if (after !== undefined) parse('after', after)
    if (before !== undefined) parse('before', before)
    const key = (row: PackSummaryRow) => (sort === 'name' ? row.name : `${row.updated_at}:${row.name}`)
    const page = fetchTwoWayPage(
      { n: request.n ?? this.settings.defaultPageSize, after, before },
      this.settings.maxPageSize,
      key,
      (direction, cursor, limit) => this.browse.packs(filter, sort, direction, cursor === null ? null : parse(direction, cursor), limit),
    )
    const tagsByRepo = this.packs.tagsOfMany(page.items.map((r) => r.id))
    return {
      ...page,
      items: page.items.map((row) => this.listEntry(row, tagsByRepo.get(row.id) ?? [])),
      sort,
      total: this.browse.packCount(filter),
      layers: this.browse.packLayers(),
    }
  }

  private listEntry(row: PackSummaryRow, tags: TagRow[]): PackListEntry {
    const versionTags = tags.filter((t) => t.kind === 'version')
    const newest = newestVersion(versionTags.map((t) => ({ version: t.label, group: t.group_name, written: t.seq, tag: t.name })))
    return {
      ...header(row.name, row),
      newest: newest ? { version: newest.version, group: newest.group, tag: newest.tag } : null,
      versions: new Set(tags.filter((t) => t.kind !== 'parent').map((t) => t.manifest_id)).size,
      tags: tags.filter((t) => t.kind !== 'parent').length,
    }
  }

  /** One pack with `ref` (a tag or digest) selected, or its newest version. */
  async pack(name: string, ref: string | null): Promise<PackPage> {
    const repoId = this.views.repoId(name)
    const summary = this.packs.packSummary(repoId)
    if (!summary) throw new RegistryError('NAME_UNKNOWN', `there is no pack named ${name} in this registry`, { name })
    const tags = this.packs.tagsOf(repoId)
    const parents = parentTagsFor(tags)
    const tagsOnManifest = versionTagsByManifest(tags)
    const selectedId = ref === null ? null : this.views.resolve(name, ref).version.manifest_id
    const entries = this.packs.versionsOf(repoId).map((v) => this.versionEntry(v, tagsOnManifest.get(v.manifest_id) ?? [], parents))
    const selectedEntry = selectedId === null ? newestVersion(entries) : entries.find((e) => e.manifestId === selectedId)
    if (!selectedEntry) throw new RegistryError('NAME_UNKNOWN', `there is no pack named ${name} in this registry`, { name })
    selectedEntry.selected = true
    const selected = this.views.versionDetail(name, ref ?? selectedEntry.ref)
    const [readme, values, presets, schema, archive] = await Promise.all([
      this.shownFile(selected.files[SHOWN_FILES.readme]),
      this.shownFile(selected.files[SHOWN_FILES.values]),
      this.shownFile(selected.files[SHOWN_FILES.presets]),
      this.shownFile(selected.files[SHOWN_FILES.schema]),
      this.archiveListing(selected.digest, selected.size),
    ])
    return {
      pack: header(name, summary),
      groups: groupVersions(entries),
      parentTags: parents.map((p) => ({ tag: p.tag, target: p.target })),
      selected,
      ref,
      archiveFileName: archiveFileName(name, selected.version),
      files: { readme, values, presets, schema },
      archive,
    }
  }

  private versionEntry(v: PackVersionRow, tags: TagRow[], parents: ReturnType<typeof parentTagsFor>): VersionEntry {
    const own = tags.filter((t) => t.kind !== 'parent')
    const versionTag = own.find((t) => t.kind === 'version')
    const names = new Set(own.map((t) => t.name))
    return {
      manifestId: v.manifest_id,
      version: v.version,
      group: v.group_name,
      ref: versionTag?.name ?? own[0]?.name ?? v.archive_digest,
      digest: v.archive_digest,
      tags: own.map((t) => t.name),
      parentTags: parents.filter((p) => names.has(p.target)).map((p) => p.tag),
      pushedAt: new Date(v.pushed_at).toISOString(),
      written: v.pushed_at,
      selected: false,
    }
  }

  private async shownFile(entry: BlobInfo | undefined): Promise<ShownFile | null> {
    if (!entry) return null
    const limit = this.settings.maxShownFileBytes
    const truncated = entry.size > limit
    const chunks: Buffer[] = []
    const stream = await this.views.open(entry.digest, truncated ? { start: 0, end: limit - 1 } : undefined)
    for await (const chunk of stream) chunks.push(chunk as Buffer)
    return { text: Buffer.concat(chunks).toString('utf8'), size: entry.size, digest: entry.digest, truncated }
  }

  /** The files in the archive, read once per archive digest (the archive was checked at push). */
  private async archiveListing(digest: string, size: number): Promise<ArchiveListing> {
    if (size > this.settings.maxListedArchiveBytes) return { kind: 'too-large', size, limit: this.settings.maxListedArchiveBytes }
    const cached = this.listings.get(digest)
    if (cached) return cached
    let listing: ArchiveListing
    try {
      const archive = await readPackArchive(await this.views.open(digest), this.settings.archive)
      listing = {
        kind: 'listed',
        files: archive.files.slice(0, this.settings.maxListedFiles).map((f) => ({ path: f.path, size: f.size })),
        total: archive.files.length,
        unpackedSize: archive.unpackedSize,
      }
    } catch (err) {
      // The page stays useful without the list; the reason is shown instead (fsck finds damage).
      return { kind: 'unreadable', reason: err instanceof Error ? err.message : String(err) }
    }
    this.listings.set(digest, listing)
    return listing
  }
}

/** The pack's header with cloud types as a list of strings, whatever pack.json held. */
function header(name: string, row: PackSummaryRow): PackHeaderView {
  const view = packHeader(name, row)
  const cloudTypes: unknown = view.cloudTypes
  return {
    ...view,
    cloudTypes: Array.isArray(cloudTypes) ? cloudTypes.filter((c): c is string => typeof c === 'string') : typeof cloudTypes === 'string' ? [cloudTypes] : [],
  }
}
