// SQL for the pack browser's read-only pages: the pack listing with its filters (text searched
// in names and in the full-text index of migration 0012, layer, cloud type, addon type, group,
// warnings), two sort orders and keyset paging in both directions; the OCI repositories that
// are not packs, with their tags, sizes and referrers; and the registry's counts, latest pushes
// and a cheap estimate of what garbage collection would reclaim. Statements are prepared once;
// where SQLite and PostgreSQL need different SQL (JSON, full-text search, substring search, the
// database's size) each statement is written once per engine from the same parts.

import type { Database, Dialect, Statement } from './database.js'
import { LATEST_VERSION } from './packs.js'
import type { EventRow } from './events.js'

export type PackSort = 'name' | 'changed'
export type PageDirection = 'after' | 'before'

export interface PackFilterParams {
  /** lower-case text found in the name or the display name */
  q: string | null
  /** the full-text query (search.ts) for each engine's index; null: the index is not asked */
  fts: Readonly<Record<Dialect, string>> | null
  layer: string | null
  /** a cloud type; packs for `all` clouds match every one */
  cloud: string | null
  /** pack.json's addonType, of the shown version */
  addonType: string | null
  /** packs with a version in this group */
  group: string | null
  /** 1: only packs whose shown version was accepted with validation warnings */
  warnings: 1 | null
}

/**
 * A pack repository as listed, with its latest-pushed pack version; the version's columns are
 * null for a repository that holds only artifacts (manifests that are not packs).
 */
export interface PackListRow {
  id: number
  name: string
  updated_at: number
  display_name: string | null
  layer: string | null
  pack_json: string | null
  files: string | null
  /** the validation warnings it was accepted with (JSON array) */
  warnings: string | null
}

/** Where a page starts: after (or before) this pack in the chosen order. */
export interface PackCursor {
  name: string
  /** repositories.updated_at, for the `changed` order */
  at: number
}

export interface OciRepositoryRow {
  id: number
  name: string
  updated_at: number
  tags: number
  manifests: number
  bytes: number
}

export interface OciTagRow {
  tag: string
  updated_at: number
  manifest_id: number
  digest: string
  media_type: string
  artifact_type: string | null
  size: number
  created_at: number
  /** the sizes of the blobs the manifest names (config and layers) */
  blob_bytes: number
  /** the manifest's bytes when it is an index (its children are read from it), else null */
  index_content: Buffer | null
}

export interface OciManifestRow {
  id: number
  digest: string
  media_type: string
  artifact_type: string | null
  size: number
  created_at: number
  subject_digest: string | null
}

export interface RegistryCountsRow {
  packs: number
  versions: number
  repositories: number
  oci_repositories: number
  manifests: number
  tags: number
  blobs: number
  blob_bytes: number
  uploads: number
  upload_bytes: number
  database_bytes: number
}

export interface PushEventRow extends EventRow {
  is_pack: number
  is_oci: number
}

const PACK_COLUMNS = 'r.id, r.name, r.updated_at, pv.display_name, pv.layer, pv.pack_json, pv.files, pv.warnings'
// Pack repositories holding a manifest: a pack version, or only artifacts a distribution client
// pushed (then pv is null). Blobs uploaded ahead of a manifest do not make a pack.
const PACK_FROM = `repositories r LEFT JOIN pack_versions pv ON ${LATEST_VERSION}`

/** Where `needle` is found in `haystack` (0: nowhere): SQLite's instr is PostgreSQL's strpos. */
function position(dialect: Dialect, haystack: string, needle: string): string {
  return dialect === 'sqlite' ? `instr(${haystack}, ${needle})` : `strpos(${haystack}, ${needle})`
}

/**
 * pack.json's addonType, from the column `json`: one text on both engines, which is also each
 * engine's index (SQLite's migration 0012, PostgreSQL's 0001), so the filter lists read an index.
 * A pack may nest extra fields deeper than SQLite's JSON functions go (1,000 levels), where
 * json_extract and json_each fail the whole statement, and a string may hold what PostgreSQL's
 * jsonb refuses (\u0000, a lone surrogate): json_valid is false for such text (PostgreSQL's
 * json_valid and json_extract are the schema's own functions), so these read NULL instead.
 */
function addonType(json: string): string {
  return `CASE WHEN json_valid(${json}) THEN json_extract(${json}, '$.addonType') END`
}

/**
 * Whether pack.json's cloudTypes (of pv) names @cloud or 'all'. SQLite's json_each walks an
 * array's items, an object's values, or a lone value; PostgreSQL reads the same values as jsonb,
 * so only strings match, as in SQLite.
 */
function cloudMatches(dialect: Dialect): string {
  if (dialect === 'sqlite') {
    return `EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(pv.pack_json) THEN pv.pack_json END, '$.cloudTypes') c WHERE c.value IN (@cloud, 'all'))`
  }
  const clouds = `(CASE WHEN json_valid(pv.pack_json) THEN CAST(pv.pack_json AS jsonb) END) -> 'cloudTypes'`
  return `EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(${clouds})
      WHEN 'array' THEN ${clouds} WHEN 'object' THEN jsonb_path_query_array(${clouds}, '$.*') WHEN 'string' THEN jsonb_build_array(${clouds}) ELSE '[]' END) c(value)
    WHERE c.value IN (to_jsonb(CAST(@cloud AS TEXT)), to_jsonb(CAST('all' AS TEXT))))`
}

/**
 * The full-text index's pack ids matching @fts. SQLite: MATCH NULL is an FTS5 syntax error,
 * whatever order SQLite evaluates this in: '""' matches nothing. PostgreSQL: pack_search is a
 * table keyed by repository_id with a tsvector of its text (search.ts writes the tsquery).
 */
function fullTextMatches(dialect: Dialect): string {
  if (dialect === 'sqlite') return `SELECT rowid FROM pack_search WHERE pack_search MATCH coalesce(@fts, '""')`
  return `SELECT repository_id FROM pack_search WHERE document @@ to_tsquery('simple', @fts)`
}

// A parameter's first use names its type (CAST ... IS NULL), as PostgreSQL must know it from there.
function packFilters(dialect: Dialect): string {
  return `r.kind = 'pack'
  AND (pv.manifest_id IS NOT NULL OR EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id))
  AND (CAST(@q AS TEXT) IS NULL OR ${position(dialect, 'lower(r.name)', '@q')} > 0 OR ${position(dialect, 'lower(pv.display_name)', '@q')} > 0
    OR (CAST(@fts AS TEXT) IS NOT NULL AND r.id IN (${fullTextMatches(dialect)})))
  AND (CAST(@layer AS TEXT) IS NULL OR pv.layer = @layer)
  AND (CAST(@addonType AS TEXT) IS NULL OR ${addonType('pv.pack_json')} = @addonType)
  AND (CAST(@group AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM pack_versions g WHERE g.repository_id = r.id AND g.group_name = @group))
  AND (CAST(@warnings AS INTEGER) IS NULL OR pv.warnings <> '[]')
  AND (CAST(@cloud AS TEXT) IS NULL OR ${cloudMatches(dialect)})`
}

/**
 * The four listing statements (order × direction). A page before the cursor is read in the
 * reverse order and turned around by the caller. A null cursor starts at the beginning.
 */
function packListSql(sort: PackSort, direction: PageDirection, dialect: Dialect): string {
  const after = direction === 'after'
  let cursor: string
  let order: string
  if (sort === 'name') {
    cursor = `(CAST(@name AS TEXT) IS NULL OR r.name ${after ? '>' : '<'} @name)`
    order = after ? 'r.name' : 'r.name DESC'
  } else {
    cursor = after
      ? '(CAST(@name AS TEXT) IS NULL OR r.updated_at < @at OR (r.updated_at = @at AND r.name > @name))'
      : '(CAST(@name AS TEXT) IS NULL OR r.updated_at > @at OR (r.updated_at = @at AND r.name < @name))'
    order = after ? 'r.updated_at DESC, r.name' : 'r.updated_at, r.name DESC'
  }
  return `SELECT ${PACK_COLUMNS} FROM ${PACK_FROM} WHERE ${packFilters(dialect)} AND ${cursor} ORDER BY ${order} LIMIT @limit`
}

const OCI_REPOSITORY_COLUMNS = `r.id, r.name, r.updated_at,
  (SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id) AS tags,
  (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id) AS manifests,
  (SELECT COALESCE(SUM(b.size), 0) FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest WHERE rb.repository_id = r.id) AS bytes`
// Only repositories holding a manifest, as in the catalog.
function ociRepositoryFilters(dialect: Dialect): string {
  return `r.kind = 'oci' AND (CAST(@q AS TEXT) IS NULL OR ${position(dialect, 'r.name', '@q')} > 0)
  AND EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)`
}

/** The strings of a JSON array parameter, as a subquery's rows. */
function jsonStrings(dialect: Dialect, parameter: string): string {
  return dialect === 'sqlite' ? `SELECT value FROM json_each(${parameter})` : `SELECT value FROM jsonb_array_elements_text(CAST(${parameter} AS jsonb))`
}

/** Each statement's SQL for an engine; most are the same text on both. */
const SQL = {
  packsAfterByName: (d: Dialect) => packListSql('name', 'after', d),
  packsBeforeByName: (d: Dialect) => packListSql('name', 'before', d),
  packsAfterByChange: (d: Dialect) => packListSql('changed', 'after', d),
  packsBeforeByChange: (d: Dialect) => packListSql('changed', 'before', d),
  packCount: (d: Dialect) => `SELECT COUNT(*) AS n FROM ${PACK_FROM} WHERE ${packFilters(d)}`,
  // Without filters: every pack repository with a manifest, counted as all repositories with a
  // manifest (one covering-index scan) less the OCI ones (few): a tenth of the cost of a join.
  allPacksCount: () => `SELECT (SELECT COUNT(DISTINCT repository_id) FROM manifests)
    - (SELECT COUNT(*) FROM repositories r WHERE r.kind = 'oci' AND EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id)) AS n`,
  packLayers: () => 'SELECT DISTINCT layer FROM pack_versions ORDER BY layer',
  // Both read from their index (migration 0012); addon types that are not strings are left out.
  packAddonTypes: () => `SELECT DISTINCT ${addonType('pack_json')} AS t FROM pack_versions WHERE ${addonType('pack_json')} IS NOT NULL ORDER BY 1`,
  packGroups: () => 'SELECT DISTINCT group_name FROM pack_versions WHERE group_name IS NOT NULL ORDER BY group_name',

  ociRepositoriesAfter: (d: Dialect) => `SELECT ${OCI_REPOSITORY_COLUMNS} FROM repositories r
    WHERE ${ociRepositoryFilters(d)} AND (CAST(@name AS TEXT) IS NULL OR r.name > @name) ORDER BY r.name LIMIT @limit`,
  ociRepositoriesBefore: (d: Dialect) => `SELECT ${OCI_REPOSITORY_COLUMNS} FROM repositories r
    WHERE ${ociRepositoryFilters(d)} AND (CAST(@name AS TEXT) IS NULL OR r.name < @name) ORDER BY r.name DESC LIMIT @limit`,
  ociRepositoryCount: (d: Dialect) => `SELECT COUNT(*) AS n FROM repositories r WHERE ${ociRepositoryFilters(d)}`,
  ociRepository: () => `SELECT ${OCI_REPOSITORY_COLUMNS} FROM repositories r WHERE r.kind = 'oci' AND r.name = ?`,
  ociTags: (d: Dialect) => `SELECT t.name AS tag, t.updated_at, m.id AS manifest_id, m.digest, m.media_type, m.artifact_type, m.size, m.created_at,
      (SELECT COALESCE(SUM(b.size), 0) FROM manifest_references mr JOIN blobs b ON b.digest = mr.digest
        WHERE mr.manifest_id = m.id AND mr.kind = 'blob') AS blob_bytes,
      CASE WHEN m.media_type IN (${jsonStrings(d, '@indexTypes')}) THEN m.content END AS index_content
    FROM tags t JOIN manifests m ON m.id = t.manifest_id
    WHERE t.repository_id = @repo AND (CAST(@after AS TEXT) IS NULL OR t.name > @after) ORDER BY t.name LIMIT @limit`,
  referrersOf: (d: Dialect) => `SELECT id, digest, media_type, artifact_type, size, created_at, subject_digest FROM manifests
    WHERE repository_id = ? AND subject_digest IN (${jsonStrings(d, '?')}) ORDER BY subject_digest, created_at, digest`,
  // The manifests of a pack repository that are not pack versions: artifacts, signatures...
  packArtifacts: () => `SELECT id, digest, media_type, artifact_type, size, created_at, subject_digest FROM manifests m
    WHERE m.repository_id = ? AND NOT EXISTS (SELECT 1 FROM pack_versions pv WHERE pv.manifest_id = m.id)
    ORDER BY m.created_at DESC, m.id DESC LIMIT ?`,
  // Neither tagged, nor a referrer, nor the child of an index: what only a digest reaches.
  untaggedManifests: () => `SELECT id, digest, media_type, artifact_type, size, created_at, subject_digest FROM manifests m
    WHERE m.repository_id = @repo AND m.subject_digest IS NULL
      AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
      AND NOT EXISTS (SELECT 1 FROM manifest_references mr JOIN manifests parent ON parent.id = mr.manifest_id
        WHERE mr.digest = m.digest AND mr.kind = 'manifest' AND parent.repository_id = m.repository_id)
    ORDER BY m.created_at DESC, m.digest LIMIT @limit`,

  // Only packs have pack versions; a repository counts once it holds a manifest.
  counts: (d: Dialect) => `SELECT
      (SELECT COUNT(DISTINCT repository_id) FROM pack_versions) AS packs,
      (SELECT COUNT(*) FROM pack_versions) AS versions,
      (SELECT COUNT(DISTINCT repository_id) FROM manifests) AS repositories,
      (SELECT COUNT(DISTINCT m.repository_id) FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.kind = 'oci') AS oci_repositories,
      (SELECT COUNT(*) FROM manifests) AS manifests,
      (SELECT COUNT(*) FROM tags WHERE kind <> 'parent') AS tags,
      (SELECT COUNT(*) FROM blobs) AS blobs,
      (SELECT COALESCE(SUM(size), 0) FROM blobs) AS blob_bytes,
      (SELECT COUNT(*) FROM upload_sessions) AS uploads,
      (SELECT COALESCE(SUM(size), 0) FROM upload_sessions) AS upload_bytes,
      ${d === 'sqlite' ? '(SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size())' : 'pg_database_size(current_database())'} AS database_bytes`,
  // What garbage collection looks at, from the metadata alone: accepted blobs that no manifest
  // and no pack version (archive or served file) refers to. Leases, the grace period and bytes
  // in the store that the metadata never accepted are left out, hence an estimate.
  latestPushes: () => `SELECT e.id, e.at, e.actor, e.action, e.repository, e.tag, e.old_digest, e.new_digest, e.forced, e.message, e.detail,
      CASE WHEN EXISTS (SELECT 1 FROM repositories r WHERE r.kind = 'pack' AND r.name = e.repository) THEN 1 ELSE 0 END AS is_pack,
      CASE WHEN EXISTS (SELECT 1 FROM repositories r WHERE r.kind = 'oci' AND r.name = e.repository) THEN 1 ELSE 0 END AS is_oci
    FROM events e WHERE e.action IN ('create', 'update') ORDER BY e.id DESC LIMIT ?`,
} as const

type StatementName = keyof typeof SQL

const PACK_LISTS: Record<PackSort, Record<PageDirection, StatementName>> = {
  name: { after: 'packsAfterByName', before: 'packsBeforeByName' },
  changed: { after: 'packsAfterByChange', before: 'packsBeforeByChange' },
}

export class BrowseMeta {
  private readonly s: Record<StatementName, Statement>
  private readonly dialect: Dialect

  constructor(db: Database) {
    this.dialect = db.dialect
    this.s = Object.fromEntries(
      Object.entries(SQL).map(([name, sql]) => {
        const sqlite = sql('sqlite')
        const postgres = sql('postgres')
        return [name, db.prepare(sqlite === postgres ? sqlite : { sqlite, postgres })]
      }),
    ) as Record<StatementName, Statement>
  }

  /** The filter's parameters for this engine (its own full-text query). */
  private params(filter: PackFilterParams): Record<string, unknown> {
    return { ...filter, fts: filter.fts?.[this.dialect] ?? null }
  }

  /** Up to `limit` packs after (or, read backwards, before) the cursor in the chosen order. */
  async packs(filter: PackFilterParams, sort: PackSort, direction: PageDirection, cursor: PackCursor | null, limit: number): Promise<PackListRow[]> {
    return (await this.s[PACK_LISTS[sort][direction]].all({ ...this.params(filter), name: cursor?.name ?? null, at: cursor?.at ?? null, limit })) as PackListRow[]
  }

  /** The newest `limit` manifests of a pack repository that are not pack versions. */
  async packArtifacts(repositoryId: number, limit: number): Promise<OciManifestRow[]> {
    return (await this.s.packArtifacts.all(repositoryId, limit)) as OciManifestRow[]
  }

  async packCount(filter: PackFilterParams): Promise<number> {
    const unfiltered = Object.values(filter).every((value) => value === null)
    return ((unfiltered ? await this.s.allPacksCount.get() : await this.s.packCount.get(this.params(filter))) as { n: number }).n
  }

  /** The layers pack versions have, for the filter. */
  async packLayers(): Promise<string[]> {
    return ((await this.s.packLayers.all()) as Array<{ layer: string }>).map((r) => r.layer)
  }

  /** The addon types pack versions have, for the filter. */
  async packAddonTypes(): Promise<string[]> {
    return ((await this.s.packAddonTypes.all()) as Array<{ t: unknown }>).flatMap((r) => (typeof r.t === 'string' ? [r.t] : []))
  }

  /** The groups pack versions are in, for the filter. */
  async packGroups(): Promise<string[]> {
    return ((await this.s.packGroups.all()) as Array<{ group_name: string }>).map((r) => r.group_name)
  }

  async ociRepositories(q: string | null, direction: PageDirection, after: string | null, limit: number): Promise<OciRepositoryRow[]> {
    const statement = direction === 'after' ? this.s.ociRepositoriesAfter : this.s.ociRepositoriesBefore
    return (await statement.all({ q, name: after, limit })) as OciRepositoryRow[]
  }

  async ociRepositoryCount(q: string | null): Promise<number> {
    return ((await this.s.ociRepositoryCount.get({ q })) as { n: number }).n
  }

  async ociRepository(name: string): Promise<OciRepositoryRow | null> {
    return ((await this.s.ociRepository.get(name)) as OciRepositoryRow | undefined) ?? null
  }

  /** Tags after `after` with their manifests; the content only of manifests of `indexTypes`. */
  async ociTags(repositoryId: number, after: string | null, limit: number, indexTypes: readonly string[]): Promise<OciTagRow[]> {
    return (await this.s.ociTags.all({ repo: repositoryId, after, limit, indexTypes: JSON.stringify(indexTypes) })) as OciTagRow[]
  }

  /** Manifests of the repository whose subject is one of `digests`. */
  async referrersOf(repositoryId: number, digests: string[]): Promise<OciManifestRow[]> {
    return (await this.s.referrersOf.all(repositoryId, JSON.stringify(digests))) as OciManifestRow[]
  }

  async untaggedManifests(repositoryId: number, limit: number): Promise<OciManifestRow[]> {
    return (await this.s.untaggedManifests.all({ repo: repositoryId, limit })) as OciManifestRow[]
  }

  async counts(): Promise<RegistryCountsRow> {
    return (await this.s.counts.get()) as RegistryCountsRow
  }

  async latestPushes(limit: number): Promise<PushEventRow[]> {
    return (await this.s.latestPushes.all(limit)) as PushEventRow[]
  }
}
