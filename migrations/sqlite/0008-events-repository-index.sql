-- The audit trail of one pack (GET /v1/_events?pack=) read in id order from an index, instead
-- of every event of that pack sorted on each page.
CREATE INDEX events_repository_id ON events(repository, id);
