// The one owner of the distribution tables: repositories, manifests, manifest_references and
// tags, for both the pack path (packs.ts, /v1 and packs pushed by distribution clients) and the
// plain distribution path (oci.ts). Both write through here, so a repository is created one way,
// a manifest is one record type stored one way, the references a manifest must satisfy are
// checked by one rule, and each kind of delete has one meaning and its own name. What a write
// means for a pack (parent tags, versions, headers) or for a distribution client (its answer,
// its events) stays with the caller; every write here runs inside the caller's transaction.
//
// Tags carry the write order (tags.seq) the parent-tag tie rule compares: every tag write here
// takes the next number from the tag sequence, inside the same transaction.

import { BlobMeta } from './blobs.js'
import type { Database, SqlText, Statement } from './database.js'
import type { RepositoryKey } from './repository-key.js'
import { TagSequence } from './sequence.js'

export interface RepositoryRow {
  id: number
  name: string
  created_at: number
  updated_at: number
}

export interface ManifestRow {
  id: number
  digest: string
  media_type: string
  artifact_type: string | null
  size: number
  content: Buffer
  subject_digest: string | null
}

/** A reference a manifest declares: its digest and the size the manifest says it has. */
export interface DeclaredReference {
  mediaType: string
  digest: string
  size: number
}

/** A manifest to store, with everything it refers to (the one manifest type of both paths). */
export interface NewManifest {
  digest: string
  mediaType: string
  /** The manifest's artifactType, else an image manifest's config mediaType, else null. */
  artifactType: string | null
  content: Buffer
  subjectDigest: string | null
  blobs: DeclaredReference[]
  manifests: DeclaredReference[]
}

/** A reference of a manifest that the repository cannot satisfy. */
export interface ReferenceProblem {
  kind: 'blob' | 'manifest'
  /** Its position among the manifest's blobs (config first) or child manifests. */
  index: number
  digest: string
  declaredSize: number
  /** null: not in the repository; else the size it has there. */
  actualSize: number | null
}

export type TagKind = 'version' | 'alias' | 'parent'

/** A tag to insert: its parts, its kind, and for version and parent tags its line. */
export interface NewTag {
  name: string
  group: string | null
  label: string
  kind: TagKind
  line: string | null
  target: string | null
}

const SQL = {
  repository: 'SELECT id, name, created_at, updated_at FROM repositories WHERE kind = ? AND name = ?',
  ensureRepository: `INSERT INTO repositories (kind, name, created_at, updated_at) VALUES (@kind, @name, @now, @now)
    ON CONFLICT (kind, name) DO UPDATE SET updated_at = excluded.updated_at RETURNING id`,
  touchRepository: 'UPDATE repositories SET updated_at = ? WHERE id = ?',
  countManifests: 'SELECT COUNT(*) AS n FROM manifests WHERE repository_id = ?',
  deleteRepository: 'DELETE FROM repositories WHERE id = ?',
  manifestByDigest: `SELECT id, digest, media_type, artifact_type, size, content, subject_digest FROM manifests
    WHERE repository_id = ? AND digest = ?`,
  manifestIdAndSize: 'SELECT id, size FROM manifests WHERE repository_id = ? AND digest = ?',
  // Writers are serialized (database.ts), so the conflict means one thing: the repository holds
  // this digest already, pushed earlier (a distribution client pushing a manifest twice, an
  // artifact pushed again). Its content and references are the same by digest, so the row
  // stays as it is and no reference is written again; the caller learns it was not created.
  // Nothing else can conflict: a plain INSERT would only turn a repeated push into an error.
  insertManifest: `INSERT INTO manifests (repository_id, digest, media_type, artifact_type, size, content, subject_digest, created_at)
    VALUES (@repo, @digest, @mediaType, @artifactType, @size, @content, @subject, @now)
    ON CONFLICT (repository_id, digest) DO NOTHING RETURNING id`,
  insertReference: 'INSERT INTO manifest_references (manifest_id, digest, kind) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
  deleteManifest: 'DELETE FROM manifests WHERE id = ?',
  tag: 'SELECT t.id, m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id WHERE t.repository_id = ? AND t.name = ?',
  insertTag: `INSERT INTO tags (repository_id, name, group_name, label, kind, manifest_id, seq, updated_at, line, target)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  // A distribution tag: an alias named by itself, created or moved.
  upsertTag: `INSERT INTO tags (repository_id, name, group_name, label, kind, manifest_id, seq, updated_at)
    VALUES (@repo, @name, NULL, @name, 'alias', @manifest, @seq, @now)
    ON CONFLICT (repository_id, name) DO UPDATE
    SET manifest_id = excluded.manifest_id, seq = excluded.seq, updated_at = excluded.updated_at`,
  moveTag: 'UPDATE tags SET manifest_id = ?, seq = ?, updated_at = ?, target = ? WHERE id = ?',
  // Many views in one statement: a JSON array of [tag id, view].
  setTagViews: {
    sqlite: `UPDATE tags SET view = v.view
             FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS view FROM json_each(?)) AS v WHERE tags.id = v.id`,
    postgres: `UPDATE tags SET view = v.view
               FROM (SELECT CAST(e ->> 0 AS BIGINT) AS id, e ->> 1 AS view FROM jsonb_array_elements(CAST(? AS jsonb)) AS e) AS v WHERE tags.id = v.id`,
  },
  setTagLine: 'UPDATE tags SET line = ? WHERE id = ?',
  deleteTag: 'DELETE FROM tags WHERE id = ?',
  tagNamesOf: 'SELECT name FROM tags WHERE manifest_id = ? ORDER BY name',
  deleteAllTagsOf: 'DELETE FROM tags WHERE manifest_id = ?',
  deleteUserTagsOf: "DELETE FROM tags WHERE manifest_id = ? AND kind <> 'parent'",
} as const satisfies Record<string, SqlText>

type StatementName = keyof typeof SQL

export class ManifestStore {
  private readonly s: Record<StatementName, Statement>
  private readonly blobs: BlobMeta
  private readonly seq: TagSequence

  constructor(db: Database) {
    this.blobs = new BlobMeta(db)
    this.seq = new TagSequence(db)
    this.s = Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, db.prepare(sql)])) as Record<StatementName, Statement>
  }

  // ---- repositories

  async repository(repo: RepositoryKey): Promise<RepositoryRow | null> {
    return ((await this.s.repository.get(repo.kind, repo.name)) as RepositoryRow | undefined) ?? null
  }

  /** The repository's id, created if new; its updated_at becomes `now` either way. */
  async ensureRepository(repo: RepositoryKey, now: number): Promise<number> {
    return ((await this.s.ensureRepository.get({ kind: repo.kind, name: repo.name, now })) as { id: number }).id
  }

  async touchRepository(id: number, now: number): Promise<void> {
    await this.s.touchRepository.run(now, id)
  }

  /** Removes a repository that holds no manifest (its blob links go with it); true when it did. */
  async deleteRepositoryIfEmpty(id: number): Promise<boolean> {
    if (((await this.s.countManifests.get(id)) as { n: number }).n > 0) return false
    await this.s.deleteRepository.run(id)
    return true
  }

  // ---- manifests

  async manifestByDigest(repositoryId: number, digest: string): Promise<ManifestRow | null> {
    return ((await this.s.manifestByDigest.get(repositoryId, digest)) as ManifestRow | undefined) ?? null
  }

  /** A manifest's id and size without its content; null when the repository has no such manifest. */
  async manifestIdAndSize(repositoryId: number, digest: string): Promise<{ id: number; size: number } | null> {
    return ((await this.s.manifestIdAndSize.get(repositoryId, digest)) as { id: number; size: number } | undefined) ?? null
  }

  /**
   * The references of a manifest that the repository (null: not created yet) cannot satisfy:
   * every blob must be linked to it and every child manifest stored in it, each with the size
   * the manifest declares, or a client verifying sizes could not pull it. Blobs first, each
   * list in the manifest's order; empty when all are there.
   */
  async referenceProblems(repositoryId: number | null, refs: { blobs: Array<{ digest: string; size: number }>; manifests: Array<{ digest: string; size: number }> }): Promise<ReferenceProblem[]> {
    const problems: ReferenceProblem[] = []
    for (const [index, ref] of refs.blobs.entries()) {
      const actualSize = repositoryId === null ? null : ((await this.blobs.inRepository(repositoryId, ref.digest))?.size ?? null)
      if (actualSize !== ref.size) problems.push({ kind: 'blob', index, digest: ref.digest, declaredSize: ref.size, actualSize })
    }
    for (const [index, ref] of refs.manifests.entries()) {
      const actualSize = repositoryId === null ? null : ((await this.manifestIdAndSize(repositoryId, ref.digest))?.size ?? null)
      if (actualSize !== ref.size) problems.push({ kind: 'manifest', index, digest: ref.digest, declaredSize: ref.size, actualSize })
    }
    return problems
  }

  /**
   * Stores a manifest with its references; `created` false when the repository held it already
   * (see insertManifest in SQL above), and then its id is the stored one's.
   */
  async insertManifest(repositoryId: number, m: NewManifest, now: number): Promise<{ id: number; created: boolean }> {
    const inserted = (await this.s.insertManifest.get({
      repo: repositoryId,
      digest: m.digest,
      mediaType: m.mediaType,
      artifactType: m.artifactType,
      size: m.content.length,
      content: m.content,
      subject: m.subjectDigest,
      now,
    })) as { id: number } | undefined
    if (inserted === undefined) return { id: ((await this.manifestIdAndSize(repositoryId, m.digest)) as { id: number }).id, created: false }
    for (const blob of m.blobs) await this.s.insertReference.run(inserted.id, blob.digest, 'blob')
    for (const child of m.manifests) await this.s.insertReference.run(inserted.id, child.digest, 'manifest')
    return { id: inserted.id, created: true }
  }

  /** Deletes a manifest (its references go with it); its tags must be gone first. */
  async deleteManifest(id: number): Promise<void> {
    await this.s.deleteManifest.run(id)
  }

  // ---- tags

  /** A tag's id and the digest it points at; null when the repository has no such tag. */
  async tag(repositoryId: number, name: string): Promise<{ id: number; digest: string } | null> {
    return ((await this.s.tag.get(repositoryId, name)) as { id: number; digest: string } | undefined) ?? null
  }

  async insertTag(repositoryId: number, t: NewTag, manifestId: number, now: number): Promise<void> {
    await this.s.insertTag.run(repositoryId, t.name, t.group, t.label, t.kind, manifestId, await this.seq.next(), now, t.line, t.target)
  }

  /** Points a distribution tag at a manifest: created as an alias if new, else moved. */
  async upsertTag(repositoryId: number, name: string, manifestId: number, now: number): Promise<void> {
    await this.s.upsertTag.run({ repo: repositoryId, name, manifest: manifestId, seq: await this.seq.next(), now })
  }

  /** Points a tag at another manifest; a parent tag also names the version tag it now follows. */
  async moveTag(tagId: number, manifestId: number, now: number, target: string | null = null): Promise<void> {
    await this.s.moveTag.run(manifestId, await this.seq.next(), now, target, tagId)
  }

  /** Keeps a tag as the /v1 API shows it (UTF-8 JSON). */
  /** Stores the views of many tags at once (one round trip to PostgreSQL). */
  async setTagViews(views: Array<[tagId: number, view: string]>): Promise<void> {
    if (views.length > 0) await this.s.setTagViews.run(JSON.stringify(views))
  }

  async setTagLine(tagId: number, line: string | null): Promise<void> {
    await this.s.setTagLine.run(line, tagId)
  }

  async deleteTag(tagId: number): Promise<void> {
    await this.s.deleteTag.run(tagId)
  }

  /**
   * Deletes every tag on a manifest, parent tags included (a distribution delete of a manifest
   * in a plain repository, which has none); returns their names in order.
   */
  async deleteAllTagsOf(manifestId: number): Promise<string[]> {
    const names = ((await this.s.tagNamesOf.all(manifestId)) as Array<{ name: string }>).map((r) => r.name)
    await this.s.deleteAllTagsOf.run(manifestId)
    return names
  }

  /**
   * Deletes the tags users wrote on a manifest (version and alias tags) and keeps its parent
   * tags: the pack path recomputes those and moves them to what remains of their line.
   */
  async deleteUserTagsOf(manifestId: number): Promise<void> {
    await this.s.deleteUserTagsOf.run(manifestId)
  }
}
