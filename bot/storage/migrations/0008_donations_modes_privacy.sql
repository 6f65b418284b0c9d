-- Donations: test/live mode per entry, monthly gifts, and timestamps no finer than the hour.
--
-- ledger_entries is rebuilt (SQLite cannot change a CHECK constraint in place): it gains
-- `mode` (which of the Stripe account's two worlds an entry belongs to), `subscription`
-- (the sub_… a monthly payment or its end belongs to) and two kinds: 'invoice_payment'
-- (ties a monthly invoice to the PaymentIntent a refund names) and 'subscription_ended'.
DROP VIEW ledger_net;
DROP VIEW ledger_resolved;
DROP TRIGGER ledger_entries_no_update;
DROP TRIGGER ledger_entries_no_delete;
DROP INDEX ledger_payment_intent;
ALTER TABLE ledger_entries RENAME TO ledger_entries_0007;

CREATE TABLE ledger_entries (
    id             INTEGER PRIMARY KEY,
    object_id      TEXT NOT NULL,           -- Stripe object (cs_…, in_…, ch_…, dp_…, sub_…) or gift:…
    kind           TEXT NOT NULL CHECK (kind IN (
                       'payment', 'payment_failed', 'refund', 'dispute_opened',
                       'dispute_withdrawn', 'dispute_reinstated', 'gift', 'gift_void',
                       'invoice_payment', 'subscription_ended')),
    variant        TEXT NOT NULL DEFAULT '', -- refund: the charge's cumulative amount_refunded
    campaign       TEXT,                    -- NULL: found through payment_intent when summed
    campaign_ref   TEXT,                    -- the unknown campaign id a payment named
    payment_intent TEXT,
    amount         INTEGER NOT NULL CHECK (amount >= 0),  -- minor units
    currency       TEXT NOT NULL CHECK (length(currency) = 3),
    occurred_at    REAL NOT NULL,           -- rounded down to the hour
    recorded_at    REAL NOT NULL,           -- rounded down to the hour
    event_id       TEXT,                    -- the Stripe event that first brought it
    note           TEXT NOT NULL DEFAULT '',
    mode           TEXT NOT NULL DEFAULT '' CHECK (mode IN ('', 'test', 'live')),  -- '': offline
    subscription   TEXT,                    -- sub_…: a monthly gift's payments and its end
    UNIQUE (object_id, kind, variant)
);

-- Entries kept before modes were recorded: a Checkout Session's id names its mode.
INSERT INTO ledger_entries (id, object_id, kind, variant, campaign, campaign_ref, payment_intent,
                            amount, currency, occurred_at, recorded_at, event_id, note, mode)
SELECT id, object_id, kind, variant, campaign, campaign_ref, payment_intent, amount, currency,
       CAST(occurred_at / 3600 AS INTEGER) * 3600, CAST(recorded_at / 3600 AS INTEGER) * 3600,
       event_id, note,
       CASE WHEN object_id LIKE 'cs\_test\_%' ESCAPE '\' THEN 'test'
            WHEN object_id LIKE 'cs\_live\_%' ESCAPE '\' THEN 'live'
            ELSE '' END
FROM ledger_entries_0007;
DROP TABLE ledger_entries_0007;

CREATE INDEX ledger_payment_intent ON ledger_entries (payment_intent, kind)
    WHERE payment_intent IS NOT NULL;
CREATE INDEX ledger_subscription ON ledger_entries (subscription, kind)
    WHERE subscription IS NOT NULL;

CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only');
END;

CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only');
END;

-- Every entry with its campaign: its own, else the campaign of the payment it is about
-- (by payment intent, directly or through a monthly invoice's payment), else 'unassigned'.
CREATE VIEW ledger_resolved AS
SELECT e.*,
       COALESCE(
           e.campaign,
           (SELECT MIN(p.campaign) FROM ledger_entries p
             WHERE p.kind = 'payment' AND p.payment_intent = e.payment_intent),
           (SELECT MIN(p.campaign) FROM ledger_entries l
              JOIN ledger_entries p ON p.kind = 'payment' AND p.object_id = l.object_id
             WHERE l.kind = 'invoice_payment' AND l.payment_intent = e.payment_intent),
           'unassigned'
       ) AS resolved_campaign
FROM ledger_entries e;

-- Signed contributions to a campaign's net total (counts are in storage/ledger.py).
CREATE VIEW ledger_net AS
SELECT resolved_campaign AS campaign, currency, mode,
       CASE kind WHEN 'payment' THEN amount
                 WHEN 'gift' THEN amount
                 WHEN 'gift_void' THEN -amount
                 WHEN 'dispute_withdrawn' THEN -amount
                 WHEN 'dispute_reinstated' THEN amount END AS net
FROM ledger_resolved
WHERE kind IN ('payment', 'gift', 'gift_void', 'dispute_withdrawn', 'dispute_reinstated')
UNION ALL
-- amount_refunded is cumulative per charge: a charge counts once, with its largest value.
SELECT MIN(resolved_campaign), currency, MIN(mode), -MAX(amount)
FROM ledger_resolved
WHERE kind = 'refund'
GROUP BY object_id, currency;

-- Donation times no finer than the hour (a milestone is passed by a payment).
UPDATE milestones SET reached_at = CAST(reached_at / 3600 AS INTEGER) * 3600;
UPDATE thank_links SET created_at = CAST(created_at / 3600 AS INTEGER) * 3600;

-- A thank-you names the donor's chat only until it is sent or has failed for good: then
-- the chat, the message and the text are forgotten, and its times rounded to the hour,
-- so no row joins a chat to a payment, by id or by time.
CREATE TRIGGER thanks_forgotten AFTER UPDATE OF state ON deliveries
WHEN NEW.state IN ('sent', 'failed', 'unknown', 'gone', 'cancelled')
 AND (SELECT kind FROM outbox_items WHERE id = NEW.item_id) = 'thanks'
BEGIN
    UPDATE deliveries
       SET chat_id = '', message_id = NULL, error = NULL,
           updated_at = CAST(NEW.updated_at / 3600 AS INTEGER) * 3600,
           next_attempt_at = CAST(NEW.next_attempt_at / 3600 AS INTEGER) * 3600
     WHERE id = NEW.id;
    UPDATE outbox_items
       SET post = '{"blocks":[]}', created_at = CAST(created_at / 3600 AS INTEGER) * 3600
     WHERE id = NEW.item_id;
END;

-- Thank-yous already sent before this version: forgotten the same way.
UPDATE deliveries
   SET chat_id = '', message_id = NULL, error = NULL,
       updated_at = CAST(updated_at / 3600 AS INTEGER) * 3600,
       next_attempt_at = CAST(next_attempt_at / 3600 AS INTEGER) * 3600
 WHERE state IN ('sent', 'failed', 'unknown', 'gone', 'cancelled')
   AND item_id IN (SELECT id FROM outbox_items WHERE kind = 'thanks');
UPDATE outbox_items
   SET post = '{"blocks":[]}', created_at = CAST(created_at / 3600 AS INTEGER) * 3600
 WHERE kind = 'thanks'
   AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.item_id = outbox_items.id
                    AND d.state NOT IN ('sent', 'failed', 'unknown', 'gone', 'cancelled'));

-- The language a donor asked in, so the thank-you reads the same.
ALTER TABLE thank_links ADD COLUMN language TEXT NOT NULL DEFAULT '';
