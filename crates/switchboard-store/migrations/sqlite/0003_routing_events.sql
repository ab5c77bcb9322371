-- Every event the router was given, in order: replaying them rebuilds its
-- state (who is available, who waits where) after a restart.
CREATE TABLE routing_events (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    at    BIGINT NOT NULL,
    event TEXT NOT NULL
);
