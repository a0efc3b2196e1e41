-- Protection of blobs from garbage collection while a request is about to reference them.
-- A lease is taken (and committed) before a blob is made visible or relied on, and released
-- in the transaction that records what references it; garbage collection never removes a
-- leased blob. A lease left by a crash expires (the code decides after how long).
CREATE TABLE blob_leases (
  lease_id  TEXT NOT NULL,
  digest    TEXT NOT NULL,
  taken_at  INTEGER NOT NULL,
  PRIMARY KEY (lease_id, digest)
);
CREATE INDEX blob_leases_digest ON blob_leases(digest);

-- Blobs garbage collection has condemned and is deleting from the store. A writer that leases
-- one of these waits for the deletion to finish before it places its own verified copy, so a
-- deletion can never remove bytes a new reference relies on.
CREATE TABLE blob_deletions (
  digest      TEXT PRIMARY KEY,
  started_at  INTEGER NOT NULL
);
