-- Anomaly Hunter store. Portable SQL: the same file runs on SQLite and PostgreSQL.
-- Times are UTC milliseconds (BIGINT); booleans are 0/1 (BIGINT); JSON is TEXT.

-- One row per investigation: the full verdict plus the columns people search by.
CREATE TABLE investigations (
    id TEXT PRIMARY KEY,
    metric TEXT NOT NULL,
    source TEXT NOT NULL,
    anomalous BIGINT NOT NULL,
    severity BIGINT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    -- Combined log-odds of "anomalous" before the metric's learned threshold offset.
    evidence_log_odds DOUBLE PRECISION NOT NULL,
    pattern TEXT,
    window_kind TEXT,
    -- Shape fingerprint of the main anomalous window (little-endian f32s), for "seen before".
    fingerprint BYTEA,
    created_at BIGINT NOT NULL,
    verdict_json TEXT NOT NULL
);
CREATE INDEX investigations_by_metric ON investigations (metric, created_at);
CREATE INDEX investigations_by_time ON investigations (created_at);

CREATE TABLE anomaly_windows (
    investigation_id TEXT NOT NULL REFERENCES investigations (id),
    position BIGINT NOT NULL,
    kind TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    magnitude DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (investigation_id, position)
);

CREATE TABLE agent_findings (
    investigation_id TEXT NOT NULL REFERENCES investigations (id),
    agent TEXT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    anomaly_probability DOUBLE PRECISION NOT NULL,
    finding TEXT NOT NULL,
    evidence_json TEXT NOT NULL,
    PRIMARY KEY (investigation_id, agent)
);

-- What people said about a verdict.
CREATE TABLE feedback (
    id TEXT PRIMARY KEY,
    investigation_id TEXT NOT NULL REFERENCES investigations (id),
    verdict TEXT NOT NULL CHECK (verdict IN ('confirmed', 'false_positive')),
    root_cause TEXT,
    author TEXT,
    platform TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX feedback_by_investigation ON feedback (investigation_id);

-- Series the bot holds, for metric-name checks.
CREATE TABLE metric_points (
    metric TEXT NOT NULL,
    ts BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (metric, ts)
);

-- Deploys and config changes.
CREATE TABLE events (
    ts BIGINT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (ts, kind, description)
);

-- Chat threads that hold a verdict (filled by the chat adapters).
CREATE TABLE chat_threads (
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    investigation_id TEXT NOT NULL REFERENCES investigations (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (platform, channel, thread_id)
);

-- Learning: each agent's agreement with feedback (Beta posterior counts).
CREATE TABLE agent_reliability (
    agent TEXT PRIMARY KEY,
    agreed DOUBLE PRECISION NOT NULL,
    disagreed DOUBLE PRECISION NOT NULL
);

-- Learning: how much more evidence a metric needs before it alerts.
CREATE TABLE metric_thresholds (
    metric TEXT PRIMARY KEY,
    threshold_offset DOUBLE PRECISION NOT NULL,
    false_positives BIGINT NOT NULL,
    confirmed BIGINT NOT NULL,
    -- Weakest evidence (log-odds) people confirmed; the offset stays below it.
    weakest_confirmed DOUBLE PRECISION,
    updated_at BIGINT NOT NULL
);
