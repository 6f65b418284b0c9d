-- PostgreSQL twin of ../0010_platform_rules.sql.
-- How each sent post shows on its platform (for Telegram: a text, a photo with a caption,
-- or a photo then a text; see bot/adapters/telegram_edit.py), so that an edit matches it.
ALTER TABLE deliveries ADD COLUMN sent_form TEXT NOT NULL DEFAULT '';

-- A configured channel is "gone" (the bot was removed: nothing is kept for it) or
-- "paused" (the bot may not post there now: its posts wait, up to [bot] paused_retention).
ALTER TABLE channels_gone ADD COLUMN state TEXT NOT NULL DEFAULT 'gone';
