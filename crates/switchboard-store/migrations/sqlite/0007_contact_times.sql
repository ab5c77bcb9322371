-- Every timestamp of a contact record as a column, so a search's time range
-- can apply to any of them (Unix ms, NULL until the contact gets there).
-- `row_version` says which of these columns a row was written with: rows
-- older than the running code are rewritten from their record at start.
ALTER TABLE contacts ADD COLUMN connected_at BIGINT;
ALTER TABLE contacts ADD COLUMN enqueued_at BIGINT;
ALTER TABLE contacts ADD COLUMN dequeued_at BIGINT;
ALTER TABLE contacts ADD COLUMN agent_connected_at BIGINT;
ALTER TABLE contacts ADD COLUMN acw_started_at BIGINT;
ALTER TABLE contacts ADD COLUMN acw_ended_at BIGINT;
ALTER TABLE contacts ADD COLUMN row_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX contacts_connected ON contacts (connected_at);
CREATE INDEX contacts_enqueued ON contacts (enqueued_at);
CREATE INDEX contacts_dequeued ON contacts (dequeued_at);
CREATE INDEX contacts_agent_connected ON contacts (agent_connected_at);
CREATE INDEX contacts_acw_started ON contacts (acw_started_at);
CREATE INDEX contacts_acw_ended ON contacts (acw_ended_at);
CREATE INDEX contacts_row_version ON contacts (row_version);
