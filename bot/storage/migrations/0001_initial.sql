-- Small key/value state the bot keeps across restarts (sync tokens, device ids).
CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
