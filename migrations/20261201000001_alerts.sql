-- Alerts received from Alertmanager: recorded before the webhook answers 2xx, so an alert is
-- never lost to a restart; one row (and one chat thread) per fingerprint and start time.
CREATE TABLE alerts (
    fingerprint TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    alertname TEXT NOT NULL,
    -- `firing` or `resolved`.
    status TEXT NOT NULL,
    ends_at BIGINT,
    -- The alert as Alertmanager sent it (labels, annotations, generatorURL).
    payload TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    -- Set once the investigation thread is posted; threads per platform.
    posted_at BIGINT,
    investigation_id TEXT,
    slack_channel TEXT,
    slack_thread TEXT,
    discord_thread TEXT,
    -- Set once the resolution is posted in that thread.
    resolution_posted_at BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (fingerprint, starts_at)
);
CREATE INDEX alerts_pending ON alerts (posted_at, resolution_posted_at);
