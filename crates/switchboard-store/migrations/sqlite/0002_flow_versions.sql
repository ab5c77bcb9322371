-- Published versions of flows. The draft lives in the flow object; each
-- publish adds a row here, and the highest version serves traffic.
CREATE TABLE flow_versions (
    flow_id      TEXT NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    version      BIGINT NOT NULL,
    flow_type    TEXT NOT NULL,
    content      TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    published_by TEXT NOT NULL,
    PRIMARY KEY (flow_id, version)
);
