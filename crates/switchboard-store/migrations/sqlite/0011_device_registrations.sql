-- Several devices per user (RFC 3261 section 10: one binding per Contact
-- or +sip.instance), each remembering the transport it registered over, so
-- a restart still calls TCP and TLS phones over their own transport.
CREATE TABLE device_registrations (
    username TEXT NOT NULL,      -- lower case
    device TEXT NOT NULL,        -- what identifies the device (instance or Contact)
    contact TEXT NOT NULL,       -- the phone's Contact URI
    source TEXT NOT NULL,        -- where its REGISTER came from (ip:port)
    transport TEXT NOT NULL,     -- UDP, TCP or TLS
    expires_at BIGINT NOT NULL,  -- Unix ms
    PRIMARY KEY (username, device)
);
INSERT INTO device_registrations (username, device, contact, source, transport, expires_at)
    SELECT username, 'uri:' || contact, contact, source, 'UDP', expires_at FROM registrations;
DROP TABLE registrations;
