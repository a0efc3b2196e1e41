-- Several replicas on one database (DESIGN §9): the same tables as SQLite's 0015-replicas.sql.

-- Each server process that runs on this database: it writes its row at start and every few
-- seconds after; a row not seen for a while is a replica that stopped or died.
CREATE TABLE replicas (
  id          TEXT COLLATE "C" PRIMARY KEY,
  address     TEXT COLLATE "C" NOT NULL,
  version     TEXT COLLATE "C" NOT NULL,
  started_at  BIGINT NOT NULL,
  last_seen   BIGINT NOT NULL
);

-- Which replica handled a change (NULL before replicas were recorded, and for operator commands).
ALTER TABLE events ADD COLUMN replica TEXT COLLATE "C";

-- The request working on an upload session now, on whichever replica, until when.
ALTER TABLE upload_sessions ADD COLUMN claimed_by TEXT COLLATE "C";
ALTER TABLE upload_sessions ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;

-- Failed logins, counted in the database so a lockout holds on every replica.
CREATE TABLE login_failures (
  key      TEXT COLLATE "C" PRIMARY KEY,
  count    BIGINT NOT NULL,
  last_at  BIGINT NOT NULL
);
CREATE INDEX login_failures_count ON login_failures(count, last_at);
