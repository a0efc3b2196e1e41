-- The pack browser's search: one full-text row per pack (rowid = repositories.id) with its
-- name, display name, addon type, description and annotations, and the start of its README,
-- all from the version its header shows (the latest pushed), rewritten by the transaction of
-- every change to the pack, as pack_headers is. SQLite's own FTS5, Unicode words with the
-- accents folded ("cafe" finds "café").
CREATE VIRTUAL TABLE pack_search USING fts5(name, display_name, addon_type, description, readme, tokenize = 'unicode61 remove_diacritics 2');

-- The searchable start of each version's README (see README_SEARCH_BYTES), kept from the push
-- so a change that shows another version needs no read of the blob store. A version without a
-- README has no row. Versions pushed before this migration get theirs at the next start-up
-- (their README is read from the blob store), and every pack its search row then.
CREATE TABLE pack_readmes (
  manifest_id  INTEGER PRIMARY KEY REFERENCES pack_versions(manifest_id) ON DELETE CASCADE,
  text         TEXT NOT NULL
);

-- The filters offer the addon types and groups versions have; each list is read from an index.
-- pack.json is kept as sent: nested past SQLite's JSON depth limit, json_extract would fail the
-- insert (and this migration), so such a version indexes NULL (json_valid is 0 for it).
CREATE INDEX pack_versions_addon_type ON pack_versions(CASE WHEN json_valid(pack_json) THEN json_extract(pack_json, '$.addonType') END);
CREATE INDEX pack_versions_group ON pack_versions(group_name) WHERE group_name IS NOT NULL;
