-- Configuration objects are typed documents: the JSON body is the object as
-- the model crate defines it, and the columns hold what the database must
-- enforce or index (kind, unique name, version). References between objects
-- are rows in object_refs with real foreign keys, so the database itself
-- refuses to delete an object that is still used.
CREATE TABLE objects (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    body        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    builtin     BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (kind, name_key)
);

CREATE TABLE object_refs (
    from_id TEXT NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    field   TEXT NOT NULL,
    to_id   TEXT NOT NULL REFERENCES objects(id) ON DELETE RESTRICT,
    PRIMARY KEY (from_id, field, to_id)
);
CREATE INDEX object_refs_to ON object_refs (to_id);

CREATE TABLE user_credentials (
    user_id       TEXT PRIMARY KEY REFERENCES objects(id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    UNIQUE (user_id, name)
);

-- Who changed what. actor_id has no foreign key: the log outlives the user.
CREATE TABLE audit_log (
    seq         BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor_id    TEXT,
    actor_name  TEXT NOT NULL,
    via         TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    object_name TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT
);
CREATE INDEX audit_log_object ON audit_log (object_id);
