-- Chat deliveries already taken (Slack messages and events, Discord messages and
-- interactions): the first replica to insert a key answers it, every other delivery of the
-- same human action (a retry, a second event type, another replica) is dropped. Pruned after
-- a day, long after any platform stops retrying.
CREATE TABLE deliveries (
    delivery_key TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL
);
CREATE INDEX deliveries_received ON deliveries (received_at);
CREATE INDEX metric_points_ts ON metric_points (ts);
