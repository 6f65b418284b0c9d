-- PostgreSQL twin of ../0001_initial.sql.
CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
