-- WebSub subscriptions, one per feed that declares a hub. `secret` signs the hub's
-- pushes (HMAC); `state` is requested (awaiting the hub's verification), subscribed
-- (until lease_until), denied, failed (the hub refused or was unreachable: see error),
-- or unsubscribing (the feed left the config; the row goes once the hub confirms).
CREATE TABLE websub (
    feed          TEXT PRIMARY KEY,
    hub           TEXT NOT NULL,
    topic         TEXT NOT NULL,
    secret        TEXT NOT NULL,
    allow_private INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL,
    lease_seconds REAL,
    lease_until   REAL,
    changed_at    REAL NOT NULL,
    error         TEXT
);
