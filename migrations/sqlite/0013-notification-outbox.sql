-- Notifications (issue 24): every event for the configured endpoints, in distribution's JSON
-- format, written in the transaction of the change it reports, so an acknowledged push always
-- has its event. seq orders delivery and is never reused (AUTOINCREMENT), since endpoints
-- remember how far they got by it. A row goes once every endpoint is past it.
CREATE TABLE notification_outbox (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  action      TEXT NOT NULL,
  media_type  TEXT NOT NULL,
  event       TEXT NOT NULL
);

-- Each endpoint's place in the outbox: every event up to delivered_seq was delivered to it,
-- skipped by its ignore rules, or dropped past the retention. One row per endpoint, so an engine
-- with several replicas can let one of them at a time hold an endpoint by locking its row.
CREATE TABLE notification_endpoints (
  name           TEXT PRIMARY KEY,
  delivered_seq  INTEGER NOT NULL
);
