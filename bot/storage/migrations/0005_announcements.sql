-- Admin announcements: a draft until confirmed, then scheduled or sending, then done.
CREATE TABLE announcements (
    id              INTEGER PRIMARY KEY,
    author          TEXT NOT NULL,            -- "platform:user id" of the admin
    source          TEXT NOT NULL,            -- the text as the admin wrote it
    post            TEXT NOT NULL,            -- the Post as JSON
    selectors       TEXT NOT NULL,            -- JSON list of --to selectors (empty: everything)
    state           TEXT NOT NULL,            -- draft | scheduled | sending | done | cancelled
    send_at         REAL,                     -- when a scheduled one goes out
    item_id         INTEGER,                  -- its outbox item once enqueued
    started_at      REAL,
    report_platform TEXT,                     -- where the live progress message is
    report_chat     TEXT,
    report_kind     TEXT,
    report_message  TEXT,
    last_report_at  REAL,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);
CREATE INDEX announcements_state ON announcements (state);

-- Every admin action and every refused attempt: who, what, when, result.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     REAL NOT NULL,
    actor  TEXT NOT NULL,                     -- "platform:user id", or "terminal"
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    result TEXT NOT NULL
);
