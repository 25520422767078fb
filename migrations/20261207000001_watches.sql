-- Watches: a metric or PromQL query scored continuously, incidents posted to a channel. One
-- replica at a time runs a watch (a lease named `watch:<id>`); any replica can add, list,
-- snooze or remove one.
CREATE TABLE watches (
    id TEXT PRIMARY KEY,
    query TEXT NOT NULL,
    step_ms BIGINT NOT NULL,
    -- Most series scored; the rest are named as left out.
    series_cap BIGINT NOT NULL,
    -- Where incident threads go: `slack` or `discord` and its channel, or neither (the alert
    -- channels).
    platform TEXT,
    channel TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    snoozed_until BIGINT,
    -- What the replica running it last saw: `starting`, `healthy`, `failing`.
    state TEXT NOT NULL DEFAULT 'starting',
    state_detail TEXT,
    series_count BIGINT NOT NULL DEFAULT 0,
    left_out BIGINT NOT NULL DEFAULT 0,
    checked_at BIGINT
);

-- Each series a watch scores: the last timestamp scored (a restart continues after it, with no
-- gap and no point scored twice), the points scored live and its incidents, for the alert
-- budget. Its open incident is its newest firing row in `alerts`.
CREATE TABLE watch_series (
    watch_id TEXT NOT NULL,
    series TEXT NOT NULL,
    first_scored_at BIGINT NOT NULL,
    last_scored_at BIGINT NOT NULL,
    points_scored BIGINT NOT NULL DEFAULT 0,
    incidents BIGINT NOT NULL DEFAULT 0,
    -- Departures (robust scales) feedback said are not incidents on this series.
    tolerated DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (watch_id, series)
);

-- Later news of an incident posted in its thread (an alert row): the series went further.
CREATE TABLE alert_updates (
    fingerprint TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    at BIGINT NOT NULL,
    text TEXT NOT NULL,
    posted_at BIGINT,
    PRIMARY KEY (fingerprint, starts_at, at)
);
