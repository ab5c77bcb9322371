-- Contact records (Connect's CTR): the whole record as JSON, plus the
-- columns searches filter and sort on. Rewritten at every state change.
CREATE TABLE contacts (
    id              TEXT PRIMARY KEY,
    channel         TEXT NOT NULL,
    state           TEXT NOT NULL,
    initiated_at    BIGINT NOT NULL,
    disconnected_at BIGINT,
    queue_id        TEXT,
    agent_id        TEXT,
    customer_address TEXT NOT NULL,
    record          TEXT NOT NULL
);
CREATE INDEX contacts_initiated ON contacts (initiated_at);
CREATE INDEX contacts_agent ON contacts (agent_id, initiated_at);
CREATE INDEX contacts_queue ON contacts (queue_id, initiated_at);
