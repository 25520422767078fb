-- Verdict events for the event stream, written in the same transaction as their
-- investigation so none is lost when the broker is down or the bot restarts.
CREATE TABLE event_outbox (
    investigation_id TEXT PRIMARY KEY REFERENCES investigations (id),
    -- UUIDv7: sorting by it is the order the events were written.
    sequence TEXT NOT NULL UNIQUE,
    event_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    published_at BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX event_outbox_pending ON event_outbox (published_at, sequence);

-- Leases: one holder at a time for work that must not run twice at once (the outbox relay,
-- whose order per key depends on a single publisher).
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
