-- The validation warnings a pack version was accepted with (a JSON array of
-- {file, field, message}), shown with the version. Versions pushed before have none recorded.
ALTER TABLE pack_versions ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';
