-- What a restart needs: the contacts still open (the process that ran them
-- died; each is closed at the next start) found without scanning them all,
-- and desk phones' registrations, so the first call after a restart reaches
-- the phones that registered before it.
CREATE INDEX contacts_open ON contacts (id) WHERE state <> 'ENDED';

CREATE TABLE registrations (
    username TEXT PRIMARY KEY,   -- lower case
    contact TEXT NOT NULL,       -- the phone's Contact URI
    source TEXT NOT NULL,        -- where its REGISTER came from (ip:port)
    expires_at BIGINT NOT NULL   -- Unix ms
);
