-- PostgreSQL twin of ../0008_donations_modes_privacy.sql: test/live mode per entry, monthly
-- gifts, donation times no finer than the hour, thank-yous forgotten once sent.
DROP VIEW ledger_net;
DROP VIEW ledger_resolved;

ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN (
    'payment', 'payment_failed', 'refund', 'dispute_opened',
    'dispute_withdrawn', 'dispute_reinstated', 'gift', 'gift_void',
    'invoice_payment', 'subscription_ended'));
ALTER TABLE ledger_entries
    ADD COLUMN mode TEXT NOT NULL DEFAULT '' CHECK (mode IN ('', 'test', 'live')),
    ADD COLUMN subscription TEXT;

-- Entries kept before modes were recorded: a Checkout Session's id names its mode, and
-- their times are rounded down to the hour. The append-only rule is lifted for this alone.
ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_no_update;
UPDATE ledger_entries
   SET occurred_at = floor(occurred_at / 3600) * 3600,
       recorded_at = floor(recorded_at / 3600) * 3600,
       mode = CASE WHEN object_id LIKE 'cs\_test\_%' THEN 'test'
                   WHEN object_id LIKE 'cs\_live\_%' THEN 'live'
                   ELSE '' END;
ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_no_update;

CREATE INDEX ledger_subscription ON ledger_entries (subscription, kind)
    WHERE subscription IS NOT NULL;

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

UPDATE milestones SET reached_at = floor(reached_at / 3600) * 3600;
UPDATE thank_links SET created_at = floor(created_at / 3600) * 3600;

-- A thank-you names the donor's chat only until it is sent or has failed for good: then
-- the chat, the message and the text are forgotten, and its times rounded to the hour.
-- The inner UPDATE sets no `state`, so it does not fire this trigger again.
CREATE FUNCTION thanks_forgotten() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT kind FROM outbox_items WHERE id = NEW.item_id) = 'thanks' THEN
        UPDATE deliveries
           SET chat_id = '', message_id = NULL, error = NULL,
               updated_at = floor(NEW.updated_at / 3600) * 3600,
               next_attempt_at = floor(NEW.next_attempt_at / 3600) * 3600
         WHERE id = NEW.id;
        UPDATE outbox_items
           SET post = '{"blocks":[]}', created_at = floor(created_at / 3600) * 3600
         WHERE id = NEW.item_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER thanks_forgotten AFTER UPDATE OF state ON deliveries
    FOR EACH ROW WHEN (NEW.state IN ('sent', 'failed', 'unknown', 'gone', 'cancelled'))
    EXECUTE FUNCTION thanks_forgotten();

-- Thank-yous already sent before this version: forgotten the same way.
UPDATE deliveries
   SET chat_id = '', message_id = NULL, error = NULL,
       updated_at = floor(updated_at / 3600) * 3600,
       next_attempt_at = floor(next_attempt_at / 3600) * 3600
 WHERE state IN ('sent', 'failed', 'unknown', 'gone', 'cancelled')
   AND item_id IN (SELECT id FROM outbox_items WHERE kind = 'thanks');
UPDATE outbox_items
   SET post = '{"blocks":[]}', created_at = floor(created_at / 3600) * 3600
 WHERE kind = 'thanks'
   AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.item_id = outbox_items.id
                    AND d.state NOT IN ('sent', 'failed', 'unknown', 'gone', 'cancelled'));

ALTER TABLE thank_links ADD COLUMN language TEXT NOT NULL DEFAULT '';
