-- PostgreSQL twin of ../0006_instance_id.sql: this database's random id in every outbox key.
INSERT INTO bot_state (key, value)
VALUES ('instance', substr(md5(random()::text || clock_timestamp()::text), 1, 16));
