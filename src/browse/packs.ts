// The pack browser's questions about packs: the listing with its search and filters
// (packs/search.ts: names, addon type, description, README; layer, cloud type, addon type, group,
// warnings), its two orders (name, last change) and paging both ways; its logos, capped; and one
// pack as a person looks at it: versions by group, newest first, with their tags and the parent
// tags pointing at them, the artifacts a distribution client pushed next to them (not packs:
// signatures, SBOMs, unrecognised formats), and what is selected: a version's details (from the
// pack views, the same answer as GET /v1/_packs/NAME/REF), its served files as text and the files
// in its archive, or an artifact with its history; and any file of a version's archive, or of the
// charts inside it (packs/file-paths.ts), as text, as binary, or as an archive's file list. Knows
// nothing of HTML.

import { Readable } from 'node:stream'
import { RegistryError } from '../errors.js'
import { LruMap } from '../lru.js'
import type { BrowseMeta, OciManifestRow, PackCursor, PackListRow, PackSort } from '../meta/browse.js'
import type { PackMeta, PackVersionRow, TagRow } from '../meta/packs.js'
import { fetchTwoWayPage, type TwoWayPage } from '../pages.js'
import { assertDigest } from '../store/digest.js'
import type { BlobInfo, ByteRange } from '../store/types.js'
import { listTar, readTarFile, type TarFileHead } from '../packs/archive-files.js'
import { type ArchiveLimits, readPackArchive } from '../packs/archive-read.js'
import { isArchiveName, splitFilePath } from '../packs/file-paths.js'
import { archiveFileName } from '../packs/oras-manifest.js'
import { packFilter, type PackFilterRequest } from '../packs/search.js'
import { parseTag } from '../packs/tags.js'
import { groupVersions, isPrerelease, newestVersion, type VersionGroup } from '../packs/version-order.js'
import { type HistoryView, historyView, logoOf, NO_VERSION, packHeader, type PackHeader, type PackHeaderRow, type PackViews, type VersionDetailView } from '../packs/views.js'

/** A parent tag and the version tag it follows. */
interface ParentLink {
  tag: string
  target: string
}

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
  /** the newest artifacts of a pack repository shown on its page */
  maxArtifacts: number
}

export interface PackListRequest extends PackFilterRequest {
  sort?: PackSort | undefined
  n?: number | undefined
  after?: string | undefined
  before?: string | undefined
}

/**
 * The largest logo the browser shows (at 36 and 64 px; 256 KiB is a 512 px PNG with room to
 * spare): a larger one is shown as the pack's initial and its logo route refuses it, so a page
 * never pulls megabytes per pack. The API's logoUrl still serves the whole file.
 */
export const LOGO_MAX_BYTES = 256 * 1024

/** A pack's logo as the browser shows it, from its own route; `shown` false when over LOGO_MAX_BYTES. */
export interface ShownLogo {
  digest: string
  size: number
  type: string
  shown: boolean
}

/** A logo the browser's logo route sends. */
export interface LogoToSend {
  digest: string
  size: number
  type: string
  open: (range?: ByteRange) => Promise<Readable>
}

/**
 * A pack's header as the browser shows it: the API's PackHeader and the logo the browser's own
 * route serves (capped, by digest), in the list and on the pack's page alike.
 */
export interface ShownPackHeader extends PackHeader {
  logo: ShownLogo | null
}

export interface PackListEntry extends ShownPackHeader {
  /** its shown version was accepted with validation warnings */
  warnings: boolean
  /** the newest release (a pre-release only when there is no release) */
  newest: { version: string; group: string | null; tag: string; prerelease: boolean } | null
  /** tagged pack versions, and tagged artifacts (manifests that are not packs) */
  versions: number
  artifacts: number
  tags: number
}

export interface PackListPage extends TwoWayPage<PackListEntry> {
  sort: PackSort
  /** packs matching the filters, over all pages */
  total: number
  /** layers present in the registry, for the filter */
  layers: string[]
  /** addon types and groups present in the registry, for the filters */
  addonTypes: string[]
  groups: string[]
}

export interface VersionEntry {
  manifestId: number
  version: string
  group: string | null
  prerelease: boolean
  /** the tag (or digest) that names this version in a link */
  ref: string
  /** the archive's digest */
  digest: string
  manifestDigest: string
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
  /** `root`: the folder the files are in inside the archive ('' or 'folder/') */
  | { kind: 'listed'; files: Array<{ path: string; size: number }>; total: number; unpackedSize: number; root: string }
  | { kind: 'too-large'; size: number; limit: number }
  | { kind: 'unreadable'; reason: string }

/** A manifest of a pack repository that is not a pack: an artifact, a signature, an SBOM. */
export interface ArtifactEntry {
  manifestId: number
  /** the manifest's digest */
  digest: string
  mediaType: string
  artifactType: string | null
  size: number
  createdAt: string
  tags: string[]
  parentTags: string[]
  /** the tag (or digest) that names it in a link */
  ref: string
  /** what it refers to (OCI subject), with the ref of that pack version when it is one */
  subject: { digest: string; ref: string | null } | null
  selected: boolean
}

export interface SelectedVersion {
  kind: 'version'
  detail: VersionDetailView
  archiveFileName: string
  files: { readme: ShownFile | null; values: ShownFile | null; presets: ShownFile | null; schema: ShownFile | null }
  archive: ArchiveListing
}

export interface SelectedArtifact {
  kind: 'artifact'
  artifact: ArtifactEntry
  history: HistoryView[]
}

/** A file of a version's archive as the browser shows it: text, binary, or an archive's files. */
export type PackFileContent =
  /** `shown`: the bytes of the file in `text` */
  | { kind: 'text'; text: string; size: number; shown: number; truncated: boolean }
  | { kind: 'binary'; size: number }
  | { kind: 'archive'; size: number; listing: ArchiveListing }

export interface PackFilePage {
  name: string
  /** the tag or digest the page was asked for */
  ref: string
  version: string
  group: string | null
  archiveDigest: string
  /** the file's path in the version (see file-paths.ts), and its last segment */
  path: string
  fileName: string
  content: PackFileContent
}

export interface PackPage {
  pack: ShownPackHeader
  groups: VersionGroup<VersionEntry>[]
  artifacts: ArtifactEntry[]
  /** every parent tag and the tag it points at */
  parentTags: Array<{ tag: string; target: string }>
  selected: SelectedVersion | SelectedArtifact
  /** the ref the page was asked for; null for the default (newest) version */
  ref: string | null
}

/** The selected version's tags shown on its page (the API pages through the rest). */
const SHOWN_VERSION_TAGS = 100

const SHOWN_FILES = { readme: 'README.md', values: 'values.yaml', presets: 'presets.yaml', schema: 'schema.yaml' } as const

const CHANGED_CURSOR = /^(\d{1,15}):([a-z0-9._-]{1,128})$/

function badCursor(which: string): RegistryError {
  return new RegistryError('BAD_REQUEST', `${which} is not a position in this listing; follow the Next and Previous links, or start again from the first page`, { [which]: true })
}

function blankToNull(value: string | undefined): string | null {
  const trimmed = value?.trim() ?? ''
  return trimmed === '' ? null : trimmed
}

function tagsByManifest(tags: TagRow[]): Map<number, TagRow[]> {
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

  async listPacks(request: PackListRequest): Promise<PackListPage> {
    const sort = request.sort ?? 'name'
    const filter = packFilter(request)
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
    const key = (row: PackListRow) => (sort === 'name' ? row.name : `${row.updated_at}:${row.name}`)
    const page = await fetchTwoWayPage({ n: request.n ?? this.settings.defaultPageSize, after, before }, this.settings.maxPageSize, key, (direction, cursor, limit) =>
      this.browse.packs(filter, sort, direction, cursor === null ? null : parse(direction, cursor), limit),
    )
    const tagsByRepo = await this.packs.tagsOfMany(page.items.map((r) => r.id))
    const [total, layers, addonTypes, groups] = await Promise.all([this.browse.packCount(filter), this.browse.packLayers(), this.browse.packAddonTypes(), this.browse.packGroups()])
    return {
      ...page,
      items: page.items.map((row) => this.listEntry(row, tagsByRepo.get(row.id) ?? [])),
      sort,
      total,
      layers,
      addonTypes,
      groups,
    }
  }

  private listEntry(row: PackListRow, tags: TagRow[]): PackListEntry {
    const own = tags.filter((t) => t.kind !== 'parent')
    // Version-named tags of artifacts count too: a repository of artifacts has versions by name.
    const newest = newestVersion(own.filter((t) => t.kind === 'version').map((t) => ({ version: t.label, group: t.group_name, written: t.seq, tag: t.name })))
    const manifests = (packs: boolean) => new Set(own.filter((t) => (t.archive_digest !== null) === packs).map((t) => t.manifest_id)).size
    return {
      ...shownHeader(row.name, row),
      warnings: row.warnings !== null && row.warnings !== '[]',
      newest: newest ? { version: newest.version, group: newest.group, tag: newest.tag, prerelease: isPrerelease(newest.version) } : null,
      versions: manifests(true),
      artifacts: manifests(false),
      tags: own.length,
    }
  }

  /** One pack with `ref` (a tag or digest) selected, or its newest version (or artifact). */
  async pack(name: string, ref: string | null): Promise<PackPage> {
    const repoId = await this.views.repoId(name)
    const summary = await this.packs.packSummary(repoId)
    const tags = await this.packs.tagsOf(repoId)
    const parents = tags.flatMap((t): ParentLink[] => (t.kind === 'parent' && t.target !== null ? [{ tag: t.name, target: t.target }] : []))
    const onManifest = tagsByManifest(tags)
    const versions = (await this.packs.versionsOf(repoId)).map((v) => versionEntry(v, onManifest.get(v.manifest_id) ?? [], parents))
    const artifacts = (await this.browse.packArtifacts(repoId, this.settings.maxArtifacts)).map((m) => artifactEntry(m, onManifest.get(m.id) ?? [], parents, versions))
    // Blobs uploaded ahead of a manifest make a repository, not a pack.
    if (versions.length === 0 && artifacts.length === 0) throw new RegistryError('NAME_UNKNOWN', `there is no pack named ${name} in this registry`, { name })

    const chosen: VersionEntry | ArtifactEntry = ref === null ? (newestVersion(versions) ?? (artifacts[0] as ArtifactEntry)) : this.find(name, ref, tags, versions, artifacts)
    chosen.selected = true
    const updatedAt = (await this.packs.repoByName(name))?.updated_at ?? 0
    const base = {
      pack: shownHeader(name, summary ?? { ...NO_VERSION, updated_at: updatedAt }),
      groups: groupVersions(versions),
      artifacts,
      parentTags: parents,
      ref,
    }
    if ('version' in chosen) return { ...base, selected: await this.selectedVersion(name, chosen) }
    const history = (await this.packs.history(name, chosen.tags, chosen.digest)).map(historyView)
    return { ...base, selected: { kind: 'artifact', artifact: chosen, history } }
  }

  /**
   * The logo a pack's header shows, named by its digest (so a new logo is a new URL and the old
   * one can be cached for good); refused over LOGO_MAX_BYTES.
   */
  async logo(name: string, digest: string): Promise<LogoToSend> {
    const logo = shownLogo((await this.packs.packSummary(await this.views.repoId(name)))?.files ?? null)
    if (logo === null || logo.digest !== digest) throw new RegistryError('NOT_FOUND', `${name} shows no logo ${digest}`, { name, digest })
    if (!logo.shown) {
      throw new RegistryError('NOT_FOUND', `the logo of ${name} is ${logo.size} bytes, more than the ${LOGO_MAX_BYTES} the browser shows; the API serves it at /v1/${name}/blobs/${digest}`, {
        name,
        size: logo.size,
        limit: LOGO_MAX_BYTES,
      })
    }
    return { digest, size: logo.size, type: logo.type, open: (range) => this.views.open(digest, range) }
  }

  /** The version or artifact a tag (any kind) or a digest (archive or manifest) names. */
  private find(name: string, ref: string, tags: TagRow[], versions: VersionEntry[], artifacts: ArtifactEntry[]): VersionEntry | ArtifactEntry {
    let manifestId: number | undefined
    if (ref.includes(':')) {
      assertDigest(ref)
      manifestId = versions.find((v) => v.digest === ref || v.manifestDigest === ref)?.manifestId ?? artifacts.find((a) => a.digest === ref)?.manifestId
      if (manifestId === undefined) throw new RegistryError('MANIFEST_UNKNOWN', `${name} has no version or artifact with digest ${ref}`, { name, digest: ref })
    } else {
      parseTag(ref)
      manifestId = tags.find((t) => t.name === ref)?.manifest_id
      if (manifestId === undefined) throw new RegistryError('TAG_UNKNOWN', `${name} has no tag ${ref}`, { name, tag: ref })
    }
    const found = versions.find((v) => v.manifestId === manifestId) ?? artifacts.find((a) => a.manifestId === manifestId)
    // Only the newest artifacts are listed; an older one is reached through the API.
    if (!found) {
      throw new RegistryError('MANIFEST_UNKNOWN', `${ref} of ${name} is not among the ${this.settings.maxArtifacts} newest artifacts shown here; GET /v1/${name}/manifests/${ref} has it`, { name, reference: ref })
    }
    return found
  }

  private async selectedVersion(name: string, entry: VersionEntry): Promise<SelectedVersion> {
    const { detail } = await this.views.versionDetail(name, entry.ref, { n: SHOWN_VERSION_TAGS })
    const [readme, values, presets, schema, archive] = await Promise.all([
      this.shownFile(detail.files[SHOWN_FILES.readme]),
      this.shownFile(detail.files[SHOWN_FILES.values]),
      this.shownFile(detail.files[SHOWN_FILES.presets]),
      this.shownFile(detail.files[SHOWN_FILES.schema]),
      this.archiveListing(detail.digest, detail.size),
    ])
    return { kind: 'version', detail, archiveFileName: archiveFileName(name, detail.version), files: { readme, values, presets, schema }, archive }
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
        root: archive.root,
      }
    } catch (err) {
      // The page stays useful without the list; the reason is shown instead (fsck finds damage).
      return { kind: 'unreadable', reason: err instanceof Error ? err.message : String(err) }
    }
    this.listings.set(digest, listing)
    return listing
  }

  /**
   * The file at `path` in a version (a tag or digest): its text up to maxShownFileBytes, or
   * that it is binary, or, for a gzip tar (a chart), the files in it.
   */
  async file(name: string, ref: string, path: string): Promise<PackFilePage> {
    const levels = splitFilePath(path)
    const { version } = await this.views.resolve(name, ref)
    const fileName = path.slice(path.lastIndexOf('/') + 1)
    const page = { name, ref, version: version.version, group: version.group_name, archiveDigest: version.archive_digest, path, fileName }
    if (isArchiveName(fileName)) {
      const limit = this.settings.archive.maxExtractedFileBytes
      const whole = await this.readFile(name, ref, version, levels, limit)
      const listing: ArchiveListing = whole.truncated ? { kind: 'too-large', size: whole.size, limit } : await this.listInner(whole.data)
      return { ...page, content: { kind: 'archive', size: whole.size, listing } }
    }
    const head = await this.readFile(name, ref, version, levels, this.settings.maxShownFileBytes)
    const text = textOf(head)
    return { ...page, content: text === null ? { kind: 'binary', size: head.size } : { kind: 'text', text, size: head.size, shown: head.data.length, truncated: head.truncated } }
  }

  /** The whole file at `path` in a version, for a download; at most limits.filesize. */
  async rawFile(name: string, ref: string, path: string): Promise<{ data: Buffer; fileName: string }> {
    const levels = splitFilePath(path)
    const { version } = await this.views.resolve(name, ref)
    const limit = this.settings.archive.maxExtractedFileBytes
    const file = await this.readFile(name, ref, version, levels, limit)
    if (file.truncated) {
      throw new RegistryError('PAYLOAD_TOO_LARGE', `${path} is ${file.size} bytes, more than the browser sends on its own (limits.filesize: ${limit} bytes); download the version's archive instead`, { path, size: file.size, limit })
    }
    return { data: file.data, fileName: path.slice(path.lastIndexOf('/') + 1) }
  }

  /**
   * The first `maxBytes` of the file `levels` names: levels[0] in the version's archive, each
   * next level inside the archive the one before names, which is read whole (charts are small;
   * one larger than limits.filesize is not opened).
   */
  private async readFile(name: string, ref: string, version: PackVersionRow, levels: string[], maxBytes: number): Promise<TarFileHead> {
    const outer = await this.archiveListing(version.archive_digest, version.archive_size)
    if (outer.kind === 'too-large') {
      throw new RegistryError('PAYLOAD_TOO_LARGE', `the archive of ${name} ${version.version} is ${outer.size} bytes, larger than the browser opens (${outer.limit} bytes); download it to read its files`, {
        name,
        size: outer.size,
        limit: outer.limit,
      })
    }
    if (outer.kind === 'unreadable') throw new RegistryError('ARCHIVE_INVALID', `the archive of ${name} ${version.version} cannot be read: ${outer.reason}`, { name })
    const inArchive = this.settings.archive.maxExtractedFileBytes
    let source: Readable = await this.views.open(version.archive_digest)
    let container = `${name} ${version.version}`
    const find = async (i: number, limit: number): Promise<TarFileHead> => {
      const level = levels[i] as string
      const file = await readTarFile(source, this.settings.archive, i === 0 ? outer.root + level : level, limit)
      if (file === null) throw new RegistryError('FILE_UNKNOWN', `${container} has no file ${level}`, { name, ref, path: levels.slice(0, i + 1).join('/') })
      return file
    }
    for (let i = 0; i < levels.length - 1; i++) {
      const inner = await find(i, inArchive)
      const shown = levels.slice(0, i + 1).join('/')
      if (inner.truncated) {
        throw new RegistryError('PAYLOAD_TOO_LARGE', `${shown} is ${inner.size} bytes, larger than the browser opens (limits.filesize: ${inArchive} bytes); download it to read its files`, {
          path: shown,
          size: inner.size,
          limit: inArchive,
        })
      }
      source = Readable.from([inner.data])
      container = shown
    }
    return find(levels.length - 1, maxBytes)
  }

  /** The files of an archive inside a version (a chart), or why they cannot be listed. */
  private async listInner(data: Buffer): Promise<ArchiveListing> {
    try {
      const listing = await listTar(Readable.from([data]), this.settings.archive, this.settings.maxListedFiles)
      return { kind: 'listed', ...listing, root: '' }
    } catch (err) {
      // Nobody checked this archive at push: a hostile or broken one is shown with its reason.
      return { kind: 'unreadable', reason: err instanceof Error ? err.message : String(err) }
    }
  }
}

/** The text of a file, or null when it is binary (a NUL byte near its start, or not UTF-8). */
function textOf(head: TarFileHead): string | null {
  if (head.data.subarray(0, 8192).includes(0)) return null
  try {
    // A cut-off file may end inside a character: `stream` leaves that character out.
    return new TextDecoder('utf-8', { fatal: true }).decode(head.data, { stream: head.truncated })
  } catch {
    return null
  }
}

function shownHeader(name: string, row: PackHeaderRow): ShownPackHeader {
  return { ...packHeader(name, row), logo: shownLogo(row.files) }
}

function shownLogo(files: string | null): ShownLogo | null {
  const logo = files === null ? undefined : logoOf(JSON.parse(files) as Record<string, BlobInfo>)
  return logo ? { digest: logo.blob.digest, size: logo.blob.size, type: logo.type, shown: logo.blob.size <= LOGO_MAX_BYTES } : null
}

function versionEntry(v: PackVersionRow, tags: TagRow[], parents: ParentLink[]): VersionEntry {
  const own = tags.filter((t) => t.kind !== 'parent')
  const versionTag = own.find((t) => t.kind === 'version')
  const names = new Set(own.map((t) => t.name))
  return {
    manifestId: v.manifest_id,
    version: v.version,
    group: v.group_name,
    prerelease: isPrerelease(v.version),
    ref: versionTag?.name ?? own[0]?.name ?? v.archive_digest,
    digest: v.archive_digest,
    manifestDigest: v.manifest_digest,
    tags: own.map((t) => t.name),
    parentTags: parents.filter((p) => names.has(p.target)).map((p) => p.tag),
    pushedAt: new Date(v.pushed_at).toISOString(),
    written: v.pushed_at,
    selected: false,
  }
}

function artifactEntry(m: OciManifestRow, tags: TagRow[], parents: ParentLink[], versions: VersionEntry[]): ArtifactEntry {
  const own = tags.filter((t) => t.kind !== 'parent')
  const names = new Set(own.map((t) => t.name))
  return {
    manifestId: m.id,
    digest: m.digest,
    mediaType: m.media_type,
    artifactType: m.artifact_type,
    size: m.size,
    createdAt: new Date(m.created_at).toISOString(),
    tags: own.map((t) => t.name),
    parentTags: parents.filter((p) => names.has(p.target)).map((p) => p.tag),
    ref: own[0]?.name ?? m.digest,
    subject: m.subject_digest === null ? null : { digest: m.subject_digest, ref: versions.find((v) => v.manifestDigest === m.subject_digest)?.ref ?? null },
    selected: false,
  }
}
