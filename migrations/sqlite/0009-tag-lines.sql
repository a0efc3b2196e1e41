-- Tag writes that cost the same at 10 tags and at 10,000 (they cost O(tags of the pack): every
-- write recomputed every parent tag and re-serialised the whole pack's listing).
--
-- line: for version and parent tags, the major version (`2` for 2.6.0-rc.1, 2.x and 2.6.x), so a
--   tag change recomputes only the parent tags of its own (group, major) line.
-- target: for parent tags, the version tag they follow, so a tag's own parent tags are one probe.
-- view: each tag as the /v1 API shows it (UTF-8 JSON), rewritten with the tag and with the
--   version tags a parent tag moves between; GET /v1/_packs joins them instead of rebuilding.
ALTER TABLE tags ADD COLUMN line TEXT;
ALTER TABLE tags ADD COLUMN target TEXT;
ALTER TABLE tags ADD COLUMN view TEXT;
CREATE INDEX tags_line ON tags(repository_id, line) WHERE line IS NOT NULL;
CREATE INDEX tags_target ON tags(repository_id, target) WHERE target IS NOT NULL;

-- A pack's listing keeps only its header now; its tags come from tags.view.
DROP TABLE pack_listings;
CREATE TABLE pack_headers (
  repository_id  INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
  name           TEXT NOT NULL,
  layer          TEXT NOT NULL,
  header         TEXT NOT NULL
);
CREATE UNIQUE INDEX pack_headers_name ON pack_headers(name);

-- Work a migration leaves to the code, done once at the next start-up in one transaction that
-- also deletes the row. Here: fill line, target and view for existing tags and recompute parent
-- tags under the rule that pre-releases never move a parent tag away from a release (each
-- parent tag that moves is recorded in the event log).
CREATE TABLE pending_tasks (
  name  TEXT PRIMARY KEY
);
INSERT INTO pending_tasks (name) VALUES ('tag-lines');
