-- The usage report finds released phone numbers (and when) from the audit
-- log's delete entries: look them up by kind and action, in time order.
CREATE INDEX audit_log_kind_action ON audit_log (object_kind, action, at);
