-- The whole data model. Bytes live in the blob store; this database says what they mean.
-- Append-only: later changes are new numbered files, never edits to this one.

-- A repository is a pack (kind 'pack', name = pack name, shown on /v1 and on /v2 under the
-- configured namespace) or a plain OCI repository (kind 'oci', name = full OCI path).
CREATE TABLE repositories (
  id          INTEGER PRIMARY KEY,
  kind        TEXT NOT NULL CHECK (kind IN ('pack', 'oci')),
  name        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  UNIQUE (kind, name)
);

-- Every blob the registry has accepted (the bytes are in the blob store).
CREATE TABLE blobs (
  digest      TEXT PRIMARY KEY,
  size        INTEGER NOT NULL,
  created_at  INTEGER NOT NULL
);

-- Which blobs a repository may serve: uploaded to it, mounted into it, or used by its manifests.
CREATE TABLE repository_blobs (
  repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  digest        TEXT NOT NULL REFERENCES blobs(digest),
  created_at    INTEGER NOT NULL,
  PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_blobs_digest ON repository_blobs(digest);

-- Manifests are small; their exact bytes are kept here so a GET never touches the blob store.
CREATE TABLE manifests (
  id             INTEGER PRIMARY KEY,
  repository_id  INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  digest         TEXT NOT NULL,
  media_type     TEXT NOT NULL,
  artifact_type  TEXT,
  size           INTEGER NOT NULL,
  content        BLOB NOT NULL,
  subject_digest TEXT,
  created_at     INTEGER NOT NULL,
  UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_subject ON manifests(repository_id, subject_digest) WHERE subject_digest IS NOT NULL;

-- What a manifest refers to: blobs (config, layers) and child manifests (index entries).
CREATE TABLE manifest_references (
  manifest_id  INTEGER NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
  digest       TEXT NOT NULL,
  kind         TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
  PRIMARY KEY (manifest_id, digest, kind)
);
CREATE INDEX manifest_references_digest ON manifest_references(digest);

-- Tags: `[group__]label`. kind: version (a pack's own version tag), alias (any other user tag,
-- and every OCI tag), parent (M.x / M.m.x, computed by the registry, never user-writable).
-- seq orders writes, for the parent-tag tie rule "most recently written wins".
CREATE TABLE tags (
  id             INTEGER PRIMARY KEY,
  repository_id  INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  name           TEXT NOT NULL,
  group_name     TEXT,
  label          TEXT NOT NULL,
  kind           TEXT NOT NULL CHECK (kind IN ('version', 'alias', 'parent')),
  manifest_id    INTEGER NOT NULL REFERENCES manifests(id),
  seq            INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  UNIQUE (repository_id, name)
);
CREATE INDEX tags_manifest ON tags(manifest_id);

-- A pack version: one manifest of a pack repository, with what the archive held.
CREATE TABLE pack_versions (
  manifest_id     INTEGER PRIMARY KEY REFERENCES manifests(id) ON DELETE CASCADE,
  repository_id   INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
  version         TEXT NOT NULL,
  group_name      TEXT,
  display_name    TEXT NOT NULL,
  layer           TEXT NOT NULL,
  pack_json       TEXT NOT NULL,
  archive_digest  TEXT NOT NULL REFERENCES blobs(digest),
  archive_size    INTEGER NOT NULL,
  content_digest  TEXT NOT NULL,
  unpacked_size   INTEGER NOT NULL,
  -- JSON object: file name (values.yaml, logo.png, ...) -> {digest, size}
  files           TEXT NOT NULL,
  pushed_at       INTEGER NOT NULL,
  pushed_by       TEXT NOT NULL,
  message         TEXT
);
CREATE INDEX pack_versions_repository ON pack_versions(repository_id);
CREATE INDEX pack_versions_archive ON pack_versions(archive_digest);

-- OCI upload sessions (chunked blob uploads); the bytes are in <root>/uploads/<id>.
CREATE TABLE upload_sessions (
  id             TEXT PRIMARY KEY,
  repository     TEXT NOT NULL,
  size           INTEGER NOT NULL DEFAULT 0,
  started_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
);
CREATE INDEX upload_sessions_updated ON upload_sessions(updated_at);

-- Append-only history: who did what to which tag, with the old and new digest.
CREATE TABLE events (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,
  actor       TEXT NOT NULL,
  action      TEXT NOT NULL,
  repository  TEXT NOT NULL,
  tag         TEXT,
  old_digest  TEXT,
  new_digest  TEXT,
  forced      INTEGER NOT NULL DEFAULT 0,
  message     TEXT,
  detail      TEXT
);
CREATE INDEX events_repository_tag ON events(repository, tag);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
