// SQL for packs: pack repositories, their versions, tags and history, and what is kept of them
// for fast reading (stored headers, full-text search rows, the READMEs' searchable text). The
// one owner of pack_versions, pack_headers, pack_search and pack_readmes; repositories,
// manifests, their references and tags are written through manifests.ts, their one owner, so a
// pack push and a distribution push store them by the same rules.
// Every method answers asynchronously (the database may be PostgreSQL); callers run the write
// methods inside one transaction (transaction() below) so a publish, a tag move and the
// parent-tag recomputation land together or not at all. Where SQLite and PostgreSQL need
// different SQL (JSON functions, FTS5 against a tsvector, group_concat) a statement names both.

import { BlobMeta } from './blobs.js'
import { type Database, type SqlText, writeTransaction } from './database.js'
import { ManifestStore, type NewManifest, type NewTag, type ReferenceProblem, type TagKind } from './manifests.js'
import { type OutboxDraft, recordNotification } from './outbox.js'
import { type EventRow, EventLog, type NewEvent } from './events.js'

export interface PackRepoRow {
  id: number
  name: string
  created_at: number
  updated_at: number
}

export interface TagRow {
  id: number
  name: string
  group_name: string | null
  label: string
  kind: TagKind
  manifest_id: number
  seq: number
  updated_at: number
  /** Version and parent tags: the major version of their line (`2` for 2.6.0 and 2.x); else null. */
  line: string | null
  /** Parent tags: the version tag they follow; else null. */
  target: string | null
  /** The tag as the API shows it (UTF-8 JSON), stored with every change; null outside pack repositories. */
  view: string | null
  manifest_digest: string
  /** The pack version's archive; null when the tag is on an artifact (not a pack). */
  archive_digest: string | null
  /** The pack version's version; null on an artifact. */
  version: string | null
}

export interface PackVersionRow {
  manifest_id: number
  repository_id: number
  version: string
  group_name: string | null
  display_name: string
  layer: string
  pack_json: string
  archive_digest: string
  archive_size: number
  content_digest: string
  unpacked_size: number
  files: string
  pushed_at: number
  pushed_by: string
  message: string | null
  /** JSON array of the validation warnings it was accepted with. */
  warnings: string
  manifest_digest: string
}

export interface PackSummaryRow {
  id: number
  name: string
  updated_at: number
  display_name: string
  layer: string
  pack_json: string
  files: string
}

export interface NewPackVersion {
  manifestId: number
  repositoryId: number
  version: string
  group: string | null
  displayName: string
  layer: string
  packJson: string
  archiveDigest: string
  archiveSize: number
  contentDigest: string
  unpackedSize: number
  files: string
  pushedAt: number
  pushedBy: string
  message: string | null
  warnings: string
  /** The searchable start of its README (search.ts); null: it has none. */
  readme: string | null
}

/** What a pack's search row is made from: its latest-pushed version, with the start of its README. */
export interface PackSearchSource {
  name: string
  display_name: string
  pack_json: string
  readme: string | null
}

/** A version whose README's searchable text is still to be read from the blob store. */
export interface ReadmeToRead {
  manifest_id: number
  repository_id: number
  digest: string
  size: number
}

/** A pack's row in the full-text index (pack_search), column by column (packs/search.ts makes it). */
export interface PackSearchRow {
  name: string
  displayName: string
  /** addonType and addonSubType */
  addonType: string
  /** pack.json's description (when a string) and the values of its annotations */
  description: string
  readme: string
}

/**
 * Text as PostgreSQL's pack_search keeps it: accents removed and every run of characters that
 * are not letters or digits made one space, so the 'simple' parser finds the words FTS5's
 * unicode61 tokenizer finds (it keeps `hello.world`, `v1.2` or `a@b.c` whole, FTS5 splits
 * them; it does not fold accents, FTS5 does). packs/search.ts splits what is typed the same way.
 */
export function searchWords(text: string): string {
  return text.normalize('NFD').replace(/\p{M}+/gu, '').replace(/[^\p{L}\p{N}]+/gu, ' ')
}

const TAG_COLUMNS = `t.id, t.name, t.group_name, t.label, t.kind, t.manifest_id, t.seq, t.updated_at, t.line, t.target, t.view,
  m.digest AS manifest_digest, pv.archive_digest, pv.version`
// A pack repository may hold artifacts (any manifest a distribution client pushed) next to
// pack versions; their tags come with no archive and no version.
const TAG_JOIN = 'tags t JOIN manifests m ON m.id = t.manifest_id LEFT JOIN pack_versions pv ON pv.manifest_id = t.manifest_id'
const VERSION_COLUMNS = 'pv.*, m.digest AS manifest_digest'

/** The latest-pushed version of each pack supplies its display name, layer and logo. */
export const LATEST_VERSION = `pv.manifest_id = (SELECT manifest_id FROM pack_versions WHERE repository_id = r.id ORDER BY pushed_at DESC, manifest_id DESC LIMIT 1)`

export class PackMeta {
  private readonly s
  private readonly blobs: BlobMeta
  private readonly events: EventLog
  private readonly store: ManifestStore

  constructor(private readonly db: Database) {
    this.blobs = new BlobMeta(db)
    this.events = new EventLog(db)
    this.store = new ManifestStore(db)
    const p = <T = unknown>(sql: SqlText) => db.prepare<T>(sql)
    this.s = {
      repoName: p<{ name: string }>('SELECT name FROM repositories WHERE id = ?'),
      totals: p<{ packs: number; versions: number }>('SELECT COUNT(DISTINCT repository_id) AS packs, COUNT(*) AS versions FROM pack_versions'),
      // A pack repository can exist with nothing in it yet: blob uploads come before the manifest.
      catalog: p<{ name: string }>(
        `SELECT name FROM repositories r WHERE kind = 'pack' AND name > ?
         AND EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id) ORDER BY name LIMIT ?`,
      ),
      // Each pack's header with the stored views of its tags (parent tags are not listed).
      listings: p<{ name: string; header: string; tags: string | null }>({
        sqlite: `SELECT h.name, h.header,
           (SELECT group_concat(t.view, ',' ORDER BY t.name) FROM tags t WHERE t.repository_id = h.repository_id AND t.kind <> 'parent') AS tags
         FROM pack_headers h
         WHERE h.name > @last AND (CAST(@name AS TEXT) IS NULL OR instr(h.name, @name) > 0) AND (CAST(@layer AS TEXT) IS NULL OR h.layer = @layer)
         ORDER BY h.name LIMIT @limit`,
        postgres: `SELECT h.name, h.header,
           (SELECT string_agg(t.view, ',' ORDER BY t.name) FROM tags t WHERE t.repository_id = h.repository_id AND t.kind <> 'parent') AS tags
         FROM pack_headers h
         WHERE h.name > @last AND (CAST(@name AS TEXT) IS NULL OR strpos(h.name, @name) > 0) AND (CAST(@layer AS TEXT) IS NULL OR h.layer = @layer)
         ORDER BY h.name LIMIT @limit`,
      }),
      saveHeader: p(
        `INSERT INTO pack_headers (repository_id, name, layer, header) VALUES (?, ?, ?, ?)
         ON CONFLICT (repository_id) DO UPDATE SET name = excluded.name, layer = excluded.layer, header = excluded.header`,
      ),
      dropHeader: p('DELETE FROM pack_headers WHERE repository_id = ?'),
      searchSource: p<PackSearchSource>(
        `SELECT r.name, pv.display_name, pv.pack_json, (SELECT text FROM pack_readmes pr WHERE pr.manifest_id = pv.manifest_id) AS readme
         FROM repositories r JOIN pack_versions pv ON ${LATEST_VERSION} WHERE r.id = ?`,
      ),
      // SQLite's FTS5 table keys a pack's row by rowid; PostgreSQL's plain table by repository_id.
      dropSearch: p({ sqlite: 'DELETE FROM pack_search WHERE rowid = ?', postgres: 'DELETE FROM pack_search WHERE repository_id = ?' }),
      insertSearch: p({
        sqlite: 'INSERT INTO pack_search (rowid, name, display_name, addon_type, description, readme) VALUES (?, ?, ?, ?, ?, ?)',
        postgres: 'INSERT INTO pack_search (repository_id, name, display_name, addon_type, description, readme) VALUES (?, ?, ?, ?, ?, ?)',
      }),
      insertReadme: p('INSERT INTO pack_readmes (manifest_id, text) VALUES (?, ?) ON CONFLICT (manifest_id) DO UPDATE SET text = excluded.text'),
      // Versions pushed before migration 0012 with a README whose text was never kept.
      // pv.files is always JSON.stringify of a flat object (name -> {digest, size}): PostgreSQL's cast never fails on it.
      readmesToRead: p<ReadmeToRead>({
        sqlite: `SELECT pv.manifest_id, pv.repository_id, json_extract(pv.files, '$."README.md".digest') AS digest,
           json_extract(pv.files, '$."README.md".size') AS size FROM pack_versions pv
         WHERE json_extract(pv.files, '$."README.md".digest') IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM pack_readmes pr WHERE pr.manifest_id = pv.manifest_id)
         ORDER BY pv.manifest_id`,
        postgres: `SELECT pv.manifest_id, pv.repository_id, CAST(pv.files AS jsonb) -> 'README.md' ->> 'digest' AS digest,
           CAST(CAST(pv.files AS jsonb) -> 'README.md' ->> 'size' AS BIGINT) AS size FROM pack_versions pv
         WHERE CAST(pv.files AS jsonb) -> 'README.md' ->> 'digest' IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM pack_readmes pr WHERE pr.manifest_id = pv.manifest_id)
         ORDER BY pv.manifest_id`,
      }),
      reposWithoutSearch: p<{ id: number }>({
        sqlite: `SELECT r.id FROM repositories r WHERE r.kind = 'pack' AND EXISTS (SELECT 1 FROM pack_versions pv WHERE pv.repository_id = r.id)
           AND r.id NOT IN (SELECT rowid FROM pack_search)`,
        postgres: `SELECT r.id FROM repositories r WHERE r.kind = 'pack' AND EXISTS (SELECT 1 FROM pack_versions pv WHERE pv.repository_id = r.id)
           AND NOT EXISTS (SELECT 1 FROM pack_search ps WHERE ps.repository_id = r.id)`,
      }),
      reposWithoutHeader: p<{ id: number }>(
        `SELECT r.id FROM repositories r WHERE r.kind = 'pack' AND NOT EXISTS (SELECT 1 FROM pack_headers h WHERE h.repository_id = r.id)
           AND EXISTS (SELECT 1 FROM pack_versions pv WHERE pv.repository_id = r.id)`,
      ),
      packRepoIds: p<{ id: number }>("SELECT id FROM repositories WHERE kind = 'pack' ORDER BY id"),
      packSummary: p<PackSummaryRow>(
        `SELECT r.id, r.name, r.updated_at, pv.display_name, pv.layer, pv.pack_json, pv.files
         FROM repositories r JOIN pack_versions pv ON ${LATEST_VERSION} WHERE r.id = ?`,
      ),
      tagsOfRepo: p<TagRow>(`SELECT ${TAG_COLUMNS} FROM ${TAG_JOIN} WHERE t.repository_id = ? ORDER BY t.name`),
      tagsOfRepos: p<TagRow & { repository_id: number }>({
        sqlite: `SELECT t.repository_id, ${TAG_COLUMNS} FROM ${TAG_JOIN}
         WHERE t.repository_id IN (SELECT value FROM json_each(?)) ORDER BY t.repository_id, t.name`,
        postgres: `SELECT t.repository_id, ${TAG_COLUMNS} FROM ${TAG_JOIN}
         WHERE t.repository_id IN (SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text(CAST(? AS jsonb))) ORDER BY t.repository_id, t.name`,
      }),
      tagByName: p<TagRow>(`SELECT ${TAG_COLUMNS} FROM ${TAG_JOIN} WHERE t.repository_id = ? AND t.name = ?`),
      tagPage: p<TagRow>(`SELECT ${TAG_COLUMNS} FROM ${TAG_JOIN} WHERE t.repository_id = ? AND t.name > ? ORDER BY t.name LIMIT ?`),
      tagCount: p<{ n: number }>('SELECT COUNT(*) AS n FROM tags WHERE repository_id = ?'),
      tagsOfLine: p<TagRow>(`SELECT ${TAG_COLUMNS} FROM ${TAG_JOIN} WHERE t.repository_id = ? AND t.line = ? AND t.group_name IS NOT DISTINCT FROM ?`),
      tagRowsOfManifest: p<TagRow>(`SELECT ${TAG_COLUMNS} FROM ${TAG_JOIN} WHERE t.manifest_id = ? ORDER BY t.name`),
      parentsFollowing: p<{ name: string }>("SELECT name FROM tags WHERE repository_id = ? AND target = ? AND kind = 'parent' ORDER BY name"),
      // The same two reads for many names at once (a JSON array of names).
      tagsNamed: p<TagRow>({
        sqlite: `SELECT ${TAG_COLUMNS} FROM ${TAG_JOIN} WHERE t.repository_id = ? AND t.name IN (SELECT value FROM json_each(?)) ORDER BY t.name`,
        postgres: `SELECT ${TAG_COLUMNS} FROM ${TAG_JOIN} WHERE t.repository_id = ? AND t.name IN (SELECT jsonb_array_elements_text(CAST(? AS jsonb))) ORDER BY t.name`,
      }),
      parentsFollowingAny: p<{ name: string; target: string }>({
        sqlite: "SELECT name, target FROM tags WHERE repository_id = ? AND kind = 'parent' AND target IN (SELECT value FROM json_each(?)) ORDER BY name",
        postgres: "SELECT name, target FROM tags WHERE repository_id = ? AND kind = 'parent' AND target IN (SELECT jsonb_array_elements_text(CAST(? AS jsonb))) ORDER BY name",
      }),
      versionByManifest: p<PackVersionRow>(`SELECT ${VERSION_COLUMNS} FROM pack_versions pv JOIN manifests m ON m.id = pv.manifest_id WHERE pv.manifest_id = ?`),
      versionByDigest: p<PackVersionRow>(
        `SELECT ${VERSION_COLUMNS} FROM pack_versions pv JOIN manifests m ON m.id = pv.manifest_id
         WHERE pv.repository_id = @repo AND (m.digest = @digest OR pv.archive_digest = @digest)
         ORDER BY pv.pushed_at DESC LIMIT 1`,
      ),
      versionsOfRepo: p<PackVersionRow>(
        `SELECT ${VERSION_COLUMNS} FROM pack_versions pv JOIN manifests m ON m.id = pv.manifest_id
         WHERE pv.repository_id = ? ORDER BY pv.pushed_at DESC, pv.manifest_id DESC`,
      ),
      isPackVersion: p<{ one: number }>('SELECT 1 AS one FROM pack_versions WHERE manifest_id = ?'),
      tagsOfManifest: p<{ id: number; name: string; kind: TagKind }>('SELECT id, name, kind FROM tags WHERE manifest_id = ? ORDER BY name'),
      userTagsOnManifest: p<{ n: number }>("SELECT COUNT(*) AS n FROM tags WHERE manifest_id = ? AND kind != 'parent'"),
      insertVersion: p(
        `INSERT INTO pack_versions (manifest_id, repository_id, version, group_name, display_name, layer, pack_json,
           archive_digest, archive_size, content_digest, unpacked_size, files, pushed_at, pushed_by, message, warnings)
         VALUES (@manifestId, @repositoryId, @version, @group, @displayName, @layer, @packJson,
           @archiveDigest, @archiveSize, @contentDigest, @unpackedSize, @files, @pushedAt, @pushedBy, @message, @warnings)`,
      ),
      manifestDescriptor: p<{ digest: string; mediaType: string; size: number }>('SELECT digest, media_type AS "mediaType", size FROM manifests WHERE id = ?'),
    }
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return writeTransaction(this.db, fn)
  }

  /** Inside the transaction of the change: its notification (nothing when no endpoint listens). */
  async notify(draft: OutboxDraft): Promise<void> {
    await recordNotification(this.db, draft)
  }

  /** A manifest's digest, media type and size, for its events. */
  manifestDescriptor(manifestId: number): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
    return this.s.manifestDescriptor.get(manifestId)
  }

  /** Inside the transaction that records what the lease protected. */
  async releaseLease(leaseId: string): Promise<void> {
    await this.blobs.releaseLease(leaseId)
  }

  async repoByName(name: string): Promise<PackRepoRow | undefined> {
    return (await this.store.repository({ kind: 'pack', name })) ?? undefined
  }

  async repoName(id: number): Promise<string> {
    return ((await this.s.repoName.get(id)) as { name: string }).name
  }

  /** The pack repository's id, created if new; its updated_at becomes `now` either way. */
  ensureRepo(name: string, now: number): Promise<number> {
    return this.store.ensureRepository({ kind: 'pack', name }, now)
  }

  touchRepo(id: number, now: number): Promise<void> {
    return this.store.touchRepository(id, now)
  }

  /** Removes a pack repository that has no versions left; true when it did. */
  deleteRepoIfEmpty(id: number): Promise<boolean> {
    return this.store.deleteRepositoryIfEmpty(id)
  }

  /** Packs (with at least one version) and pack versions, for the metrics. */
  async totals(): Promise<{ packs: number; versions: number }> {
    return (await this.s.totals.get()) as { packs: number; versions: number }
  }

  async catalog(last: string, limit: number): Promise<string[]> {
    return (await this.s.catalog.all(last, limit)).map((r) => r.name)
  }

  /**
   * A page of packs by name: each pack's stored header and the stored views of its tags, joined
   * by commas in tag order (null: no tags), both UTF-8 JSON.
   */
  listings(filter: { name: string | null; layer: string | null; last: string; limit: number }): Promise<Array<{ name: string; header: string; tags: string | null }>> {
    return this.s.listings.all(filter)
  }

  /** Keeps a pack's stored header; null drops it (the repository holds no pack version). */
  async saveHeader(repoId: number, header: { name: string; layer: string; json: string } | null): Promise<void> {
    if (header === null) await this.s.dropHeader.run(repoId)
    else await this.s.saveHeader.run(repoId, header.name, header.layer, header.json)
  }

  /** The version a pack's search row is made from; undefined when the repository holds no pack version. */
  searchSource(repoId: number): Promise<PackSearchSource | undefined> {
    return this.s.searchSource.get(repoId)
  }

  /**
   * Keeps a pack's full-text row; null drops it (FTS5 rows have no foreign key to cascade). On
   * PostgreSQL the text is stored as searchWords() makes it, so its tsvector holds the words
   * FTS5 finds in the same text.
   */
  async saveSearch(repoId: number, row: PackSearchRow | null): Promise<void> {
    await this.s.dropSearch.run(repoId)
    if (row === null) return
    const text = this.db.dialect === 'postgres' ? searchWords : (value: string) => value
    await this.s.insertSearch.run(repoId, text(row.name), text(row.displayName), text(row.addonType), text(row.description), text(row.readme))
  }

  /** Keeps the searchable start of a version's README. */
  async saveReadme(manifestId: number, text: string): Promise<void> {
    await this.s.insertReadme.run(manifestId, text)
  }

  /** Versions with a README whose searchable text was never kept (pushed before migration 0012). */
  readmesToRead(): Promise<ReadmeToRead[]> {
    return this.s.readmesToRead.all()
  }

  /** Pack repositories with versions and no full-text row (written before the index existed). */
  async reposWithoutSearch(): Promise<number[]> {
    return (await this.s.reposWithoutSearch.all()).map((r) => r.id)
  }

  /** Pack repositories with versions whose header was never stored (written before the table existed). */
  async reposWithoutHeader(): Promise<number[]> {
    return (await this.s.reposWithoutHeader.all()).map((r) => r.id)
  }

  /** Every pack repository, for work over all of them (a migration's). */
  async packRepoIds(): Promise<number[]> {
    return (await this.s.packRepoIds.all()).map((r) => r.id)
  }

  packSummary(repoId: number): Promise<PackSummaryRow | undefined> {
    return this.s.packSummary.get(repoId)
  }

  tagsOf(repoId: number): Promise<TagRow[]> {
    return this.s.tagsOfRepo.all(repoId)
  }

  async tagsOfMany(repoIds: number[]): Promise<Map<number, TagRow[]>> {
    const out = new Map<number, TagRow[]>()
    for (const row of await this.s.tagsOfRepos.all(JSON.stringify(repoIds))) {
      const list = out.get(row.repository_id) ?? []
      list.push(row)
      out.set(row.repository_id, list)
    }
    return out
  }

  tag(repoId: number, name: string): Promise<TagRow | undefined> {
    return this.s.tagByName.get(repoId, name)
  }

  /** Up to `limit` tags (every kind) after `after`, by name. */
  tagPage(repoId: number, after: string, limit: number): Promise<TagRow[]> {
    return this.s.tagPage.all(repoId, after, limit)
  }

  async tagCount(repoId: number): Promise<number> {
    return ((await this.s.tagCount.get(repoId)) as { n: number }).n
  }

  /** The version and parent tags of one (group, major) line. */
  tagsOfLine(repoId: number, group: string | null, line: string): Promise<TagRow[]> {
    return this.s.tagsOfLine.all(repoId, line, group)
  }

  /** Every tag on a manifest, by name. */
  tagRowsOfManifest(manifestId: number): Promise<TagRow[]> {
    return this.s.tagRowsOfManifest.all(manifestId)
  }

  /** The parent tags that follow the version tag `target`, by name. */
  async parentsFollowing(repoId: number, target: string): Promise<string[]> {
    return (await this.s.parentsFollowing.all(repoId, target)).map((r) => r.name)
  }

  /** The tags of `names` that exist, by name. */
  tagsNamed(repoId: number, names: string[]): Promise<TagRow[]> {
    return this.s.tagsNamed.all(repoId, JSON.stringify(names))
  }

  /** The parent tags following each of the version tags `targets`, each list by name. */
  async parentsFollowingEach(repoId: number, targets: string[]): Promise<Map<string, string[]>> {
    const following = new Map<string, string[]>()
    for (const { name, target } of await this.s.parentsFollowingAny.all(repoId, JSON.stringify(targets))) {
      const names = following.get(target)
      if (names) names.push(name)
      else following.set(target, [name])
    }
    return following
  }

  setViews(views: Array<[tagId: number, view: string]>): Promise<void> {
    return this.store.setTagViews(views)
  }

  setLine(tagId: number, line: string | null): Promise<void> {
    return this.store.setTagLine(tagId, line)
  }

  version(manifestId: number): Promise<PackVersionRow | undefined> {
    return this.s.versionByManifest.get(manifestId)
  }

  versionByDigest(repoId: number, digest: string): Promise<PackVersionRow | undefined> {
    return this.s.versionByDigest.get({ repo: repoId, digest })
  }

  versionsOf(repoId: number): Promise<PackVersionRow[]> {
    return this.s.versionsOfRepo.all(repoId)
  }

  async manifestId(repoId: number, digest: string): Promise<number | undefined> {
    return (await this.store.manifestIdAndSize(repoId, digest))?.id
  }

  /** What of `refs` the repository (null: none yet) cannot satisfy: manifests.ts's one check. */
  referenceProblems(repoId: number | null, refs: { blobs: Array<{ digest: string; size: number }>; manifests: Array<{ digest: string; size: number }> }): Promise<ReferenceProblem[]> {
    return this.store.referenceProblems(repoId, refs)
  }

  /** Whether the manifest is a pack version (else it is an artifact). */
  async isPackVersion(manifestId: number): Promise<boolean> {
    return (await this.s.isPackVersion.get(manifestId)) !== undefined
  }

  tagsOfManifest(manifestId: number): Promise<Array<{ id: number; name: string; kind: TagKind }>> {
    return this.s.tagsOfManifest.all(manifestId)
  }

  /** Stores a manifest with its references; the id of the stored one when the repository holds it already. */
  async insertManifest(repoId: number, m: NewManifest, now: number): Promise<number> {
    return (await this.store.insertManifest(repoId, m, now)).id
  }

  /** Deletes a manifest; its tags must be gone (deleteUserTagsOf, parent tags moved away). */
  deleteManifest(id: number): Promise<void> {
    return this.store.deleteManifest(id)
  }

  /** Tags other than parent tags still pointing at a manifest. */
  async userTagCount(manifestId: number): Promise<number> {
    return ((await this.s.userTagsOnManifest.get(manifestId)) as { n: number }).n
  }

  async recordBlobs(repoId: number, blobs: Array<{ digest: string; size: number }>, now: number): Promise<void> {
    await this.blobs.recordManyInRepository(repoId, blobs, now)
  }

  async insertVersion(v: NewPackVersion): Promise<void> {
    const { readme, ...row } = v
    await this.s.insertVersion.run(row)
    if (readme !== null) await this.s.insertReadme.run(v.manifestId, readme)
  }

  /** Inserts a tag; it takes the next place in the tag write order. */
  insertTag(repoId: number, t: NewTag, manifestId: number, now: number): Promise<void> {
    return this.store.insertTag(repoId, t, manifestId, now)
  }

  /** Points a tag at another manifest; a parent tag also names the version tag it now follows. */
  moveTag(tagId: number, manifestId: number, now: number, target: string | null = null): Promise<void> {
    return this.store.moveTag(tagId, manifestId, now, target)
  }

  deleteTag(tagId: number): Promise<void> {
    return this.store.deleteTag(tagId)
  }

  /** Deletes a manifest's version and alias tags; its parent tags stay for the caller to move. */
  deleteUserTagsOf(manifestId: number): Promise<void> {
    return this.store.deleteUserTagsOf(manifestId)
  }

  async appendEvent(e: NewEvent): Promise<void> {
    await this.events.append(e)
  }

  history(repository: string, tags: string[], digest: string): Promise<EventRow[]> {
    return this.events.history(repository, tags, digest)
  }
}
