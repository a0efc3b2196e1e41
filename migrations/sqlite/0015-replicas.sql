-- Several replicas on one database (DESIGN §9). With SQLite there is one server, but the tables
-- are the same on both engines, so every table owner has one code path.

-- Each server process that runs on this database: it writes its row at start and every few
-- seconds after; a row not seen for a while is a replica that stopped or died. The registry page
-- and /metrics list them.
CREATE TABLE replicas (
  id          TEXT PRIMARY KEY,
  address     TEXT NOT NULL,
  version     TEXT NOT NULL,
  started_at  INTEGER NOT NULL,
  last_seen   INTEGER NOT NULL
);

-- Which replica handled a change (NULL for events written before replicas were recorded, and by
-- operator commands).
ALTER TABLE events ADD COLUMN replica TEXT;

-- The request working on an upload session now, on whichever replica, until when: requests of
-- one session are serialized across replicas by claiming the row; a claim left by a replica that
-- died expires.
ALTER TABLE upload_sessions ADD COLUMN claimed_by TEXT;
ALTER TABLE upload_sessions ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;

-- Failed logins, counted here rather than in one replica's memory, so a lockout holds whichever
-- replica a client reaches. Keyed by address, and by address + a hash of the user name.
CREATE TABLE login_failures (
  key      TEXT PRIMARY KEY,
  count    INTEGER NOT NULL,
  last_at  INTEGER NOT NULL
);
CREATE INDEX login_failures_count ON login_failures(count, last_at);
