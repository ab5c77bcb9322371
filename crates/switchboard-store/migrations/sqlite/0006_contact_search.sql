-- More of the record as columns, so contact search filters in SQL:
-- initiation method, disconnect reason, the number dialled, and the words
-- of a chat's transcript (lower case) for text search.
ALTER TABLE contacts ADD COLUMN initiation_method TEXT;
ALTER TABLE contacts ADD COLUMN disconnect_reason TEXT;
ALTER TABLE contacts ADD COLUMN system_address TEXT;
ALTER TABLE contacts ADD COLUMN search_text TEXT;
CREATE INDEX contacts_disconnected ON contacts (disconnected_at);
