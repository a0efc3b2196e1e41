-- Indexes for reading the event log as an audit trail (GET /v1/_events?since=&user=) and for
-- the garbage-collection totals of the metrics (action = 'gc').
CREATE INDEX events_at ON events(at);
CREATE INDEX events_actor ON events(actor, id);
CREATE INDEX events_action ON events(action, id);
