-- A random id for this database, part of every outbox idempotency key: a database
-- restored from a backup (or created anew) must not reuse transaction ids a homeserver
-- still remembers for the same device, or it would answer with the old event.
INSERT INTO bot_state (key, value) VALUES ('instance', lower(hex(randomblob(8))));
