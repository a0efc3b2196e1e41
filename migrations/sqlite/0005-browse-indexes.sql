-- The pack browser's listings at 10,000 packs. Each pack shows its latest-pushed version: with
-- this index that lookup is one index probe per pack instead of a sort of the pack's versions
-- (it also serves every lookup by repository_id, so the older single-column index goes).
CREATE INDEX pack_versions_latest ON pack_versions(repository_id, pushed_at DESC, manifest_id DESC);
DROP INDEX pack_versions_repository;
-- "Sorted by last change", newest first, read in index order page by page.
CREATE INDEX repositories_changed ON repositories(kind, updated_at DESC, name);
-- The layer filter offers the layers packs have.
CREATE INDEX pack_versions_layer ON pack_versions(layer);
