-- Every request to the optional language model: what it was for, what became of it and what
-- it cost; the accepted answer is kept (JSON), so what the bot said can be read back.
CREATE TABLE model_answers (
    id TEXT PRIMARY KEY,
    investigation_id TEXT NOT NULL REFERENCES investigations (id),
    -- `summary` or `question`.
    purpose TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    -- `accepted`, `rejected`, `failed` or `skipped`, and why when not accepted.
    outcome TEXT NOT NULL,
    reason TEXT,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,
    answer_json TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX model_answers_by_investigation ON model_answers (investigation_id);
CREATE INDEX model_answers_by_time ON model_answers (created_at);
