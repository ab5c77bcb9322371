-- What each user sets in the pages for themselves (a supervisor's queue
-- thresholds on the live report), kept on the server so it follows them
-- from browser to browser. One JSON document per user and name.
CREATE TABLE user_preferences (
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,  -- Unix ms
    PRIMARY KEY (user_id, name)
);
