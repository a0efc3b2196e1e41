-- Where a tag came from (DESIGN §10): one row per tag `packyard sync` wrote, with the upstream
-- and the manifest it copied. Sync moves a tag only while the tag still points at that
-- manifest; a tag pushed here (no row, or a row whose manifest the tag no longer points at) is
-- never overwritten. Keyed by pack name and tag, not by repository id: the row is written just
-- before the publish transaction that may create the repository, so a crash between the two
-- leaves a row that names a manifest no tag points at, which claims nothing.
CREATE TABLE sync_origins (
  repository       TEXT NOT NULL,
  tag              TEXT NOT NULL,
  upstream         TEXT NOT NULL,
  manifest_digest  TEXT NOT NULL,
  synced_at        INTEGER NOT NULL,
  PRIMARY KEY (repository, tag)
);

-- Each upstream's last run, for the registry page and the metrics: read from the event log.
CREATE INDEX events_sync_runs ON events(action, id) WHERE action = 'sync';
