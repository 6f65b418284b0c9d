-- Feeds: what the poller remembers between polls.
CREATE TABLE feeds (
    name             TEXT PRIMARY KEY,
    configured_url   TEXT NOT NULL,       -- the URL in the config (a change resets the feed)
    url              TEXT NOT NULL,       -- the URL polled (follows permanent redirects)
    etag             TEXT,
    last_modified    TEXT,
    first_polled_at  REAL,                -- NULL until the first successful poll (backfill)
    last_poll_at     REAL,
    last_ok_at       REAL,
    last_error       TEXT,
    failures         INTEGER NOT NULL DEFAULT 0,
    failure_notified INTEGER NOT NULL DEFAULT 0,
    next_poll_at     REAL NOT NULL DEFAULT 0
);

-- Every entry ever seen; posted = 1 when it went to the outbox.
CREATE TABLE articles (
    id            INTEGER PRIMARY KEY,
    feed          TEXT NOT NULL,
    key           TEXT NOT NULL,
    canonical_url TEXT NOT NULL,
    url           TEXT NOT NULL,
    title         TEXT NOT NULL,
    author        TEXT NOT NULL,
    summary       TEXT NOT NULL,
    image_url     TEXT,
    categories    TEXT NOT NULL,          -- JSON list
    published_at  REAL,
    content_hash  TEXT NOT NULL,
    seen_at       REAL NOT NULL,
    posted        INTEGER NOT NULL,
    UNIQUE (feed, key)
);
CREATE INDEX articles_canonical ON articles (canonical_url) WHERE posted = 1;

-- Private subscribers; topics is a JSON list (empty: every article).
CREATE TABLE subscribers (
    platform   TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    topics     TEXT NOT NULL DEFAULT '[]',
    active     INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    PRIMARY KEY (platform, chat_id)
);

-- Configured channels the platform told us are gone (bot removed, chat deleted).
CREATE TABLE channels_gone (
    name   TEXT PRIMARY KEY,
    since  REAL NOT NULL,
    reason TEXT NOT NULL
);

-- The durable outbox: one item, one delivery row per target.
CREATE TABLE outbox_items (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,             -- article | announcement | milestone | notice
    ref        TEXT,                      -- e.g. the article id
    post       TEXT NOT NULL,             -- the Post as JSON
    created_at REAL NOT NULL
);

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    item_id         INTEGER NOT NULL REFERENCES outbox_items (id),
    action          TEXT NOT NULL DEFAULT 'send',   -- send | edit
    platform        TEXT NOT NULL,
    chat_id         TEXT NOT NULL,
    chat_kind       TEXT NOT NULL,
    target          TEXT NOT NULL,                  -- channel:<name> | subscriber | admin
    state           TEXT NOT NULL,                  -- pending | sending | sent | failed | unknown | gone | cancelled
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    message_id      TEXT,                           -- set when sent; for an edit, the message edited
    error           TEXT,
    updated_at      REAL NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (platform, state, next_attempt_at);
CREATE INDEX deliveries_item ON deliveries (item_id);
