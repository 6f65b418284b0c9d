-- PostgreSQL twin of ../0009_websub.sql.
CREATE TABLE websub (
    feed          TEXT PRIMARY KEY,
    hub           TEXT NOT NULL,
    topic         TEXT NOT NULL,
    secret        TEXT NOT NULL,
    allow_private INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL,
    lease_seconds DOUBLE PRECISION,
    lease_until   DOUBLE PRECISION,
    changed_at    DOUBLE PRECISION NOT NULL,
    error         TEXT
);
