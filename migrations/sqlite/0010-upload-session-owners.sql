-- Who opened each upload session, so the sessions one user holds open are capped
-- (limits.uploadsessions) by counting that user's rows in an index, whatever the total; and an
-- index of the sessions that never received a byte, which are purged after minutes, not hours.
-- Sessions opened before this migration belong to nobody ('') and count against no one.
ALTER TABLE upload_sessions ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX upload_sessions_owner ON upload_sessions(owner);
CREATE INDEX upload_sessions_empty ON upload_sessions(updated_at) WHERE size = 0;
