-- The donations ledger: append-only, one row per (object, kind, variant).
-- Replaying an event inserts nothing new, so totals cannot drift.
CREATE TABLE ledger_entries (
    id             INTEGER PRIMARY KEY,
    object_id      TEXT NOT NULL,           -- Stripe object (cs_…, ch_…, dp_…) or gift:… for an offline gift
    kind           TEXT NOT NULL CHECK (kind IN (
                       'payment', 'payment_failed', 'refund', 'dispute_opened',
                       'dispute_withdrawn', 'dispute_reinstated', 'gift', 'gift_void')),
    variant        TEXT NOT NULL DEFAULT '', -- refund: the charge's cumulative amount_refunded
    campaign       TEXT,                    -- NULL: found through payment_intent when summed
    campaign_ref   TEXT,                    -- the unknown campaign id a payment named
    payment_intent TEXT,
    amount         INTEGER NOT NULL CHECK (amount >= 0),  -- minor units
    currency       TEXT NOT NULL CHECK (length(currency) = 3),
    occurred_at    REAL NOT NULL,
    recorded_at    REAL NOT NULL,
    event_id       TEXT,                    -- the Stripe event that first brought it
    note           TEXT NOT NULL DEFAULT '',
    UNIQUE (object_id, kind, variant)
);
CREATE INDEX ledger_payment_intent ON ledger_entries (payment_intent, kind)
    WHERE payment_intent IS NOT NULL;

CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only');
END;

CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only');
END;

-- Every entry with its campaign: its own, else the campaign of the payment with the same
-- payment intent (refunds and disputes), else 'unassigned'. Resolved when read, so a refund
-- that arrives before its payment still lands on the right campaign.
CREATE VIEW ledger_resolved AS
SELECT e.*,
       COALESCE(
           e.campaign,
           (SELECT MIN(p.campaign) FROM ledger_entries p
             WHERE p.kind = 'payment' AND p.payment_intent = e.payment_intent),
           'unassigned'
       ) AS resolved_campaign
FROM ledger_entries e;

-- Signed contributions to a campaign's net total and donation count.
CREATE VIEW ledger_net AS
SELECT resolved_campaign AS campaign, currency,
       CASE kind WHEN 'payment' THEN amount
                 WHEN 'gift' THEN amount
                 WHEN 'gift_void' THEN -amount
                 WHEN 'dispute_withdrawn' THEN -amount
                 WHEN 'dispute_reinstated' THEN amount END AS net,
       CASE kind WHEN 'payment' THEN 1
                 WHEN 'gift' THEN 1
                 WHEN 'gift_void' THEN -1
                 ELSE 0 END AS donations
FROM ledger_resolved
WHERE kind IN ('payment', 'gift', 'gift_void', 'dispute_withdrawn', 'dispute_reinstated')
UNION ALL
-- amount_refunded is cumulative per charge: a charge counts once, with its largest value.
SELECT MIN(resolved_campaign), currency, -MAX(amount), 0
FROM ledger_resolved
WHERE kind = 'refund'
GROUP BY object_id, currency;

-- Milestones posted (or passed) once each; written with their outbox item.
CREATE TABLE milestones (
    campaign   TEXT NOT NULL,
    threshold  INTEGER NOT NULL,             -- percent of the goal
    reached_at REAL NOT NULL,
    item_id    INTEGER,                      -- the outbox item that announced it, if any
    PRIMARY KEY (campaign, threshold)
);

-- "Tell me when it arrives": an opaque token in the payment's metadata -> where to say thanks.
-- Deleted when the thank-you is queued (or after a week unused).
CREATE TABLE thank_links (
    token       TEXT PRIMARY KEY,
    request_key TEXT NOT NULL UNIQUE,        -- the link request it was made for
    platform    TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    chat_kind   TEXT NOT NULL,
    created_at  REAL NOT NULL
);

-- Stripe objects the bot created once and reuses (e.g. the "any amount" Price per campaign).
CREATE TABLE stripe_objects (
    key        TEXT PRIMARY KEY,
    stripe_id  TEXT NOT NULL,
    created_at REAL NOT NULL
);
