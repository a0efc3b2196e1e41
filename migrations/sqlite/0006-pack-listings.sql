-- Each pack as GET /v1/_packs lists it (its header and every tag with its parent tags), kept as
-- UTF-8 JSON bytes by the transaction of every change to the pack, so a page of 1,000 packs is
-- one index range read, joined into the answer as bytes, instead of thousands of rows joined,
-- parsed and shaped per request. Packs written before this table existed are filled in at
-- start-up.
CREATE TABLE pack_listings (
  repository_id  INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
  name           TEXT NOT NULL,
  layer          TEXT NOT NULL,
  listing        BLOB NOT NULL
);
CREATE UNIQUE INDEX pack_listings_name ON pack_listings(name);
