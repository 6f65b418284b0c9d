-- A person's own choice of language (/language), per platform user. No row: the bot
-- follows what the chat app tells (Telegram's language_code), else [bot] language.
-- Listed by /mydata and deleted by /forgetme.
CREATE TABLE people (
    platform TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    language TEXT NOT NULL,
    PRIMARY KEY (platform, user_id)
) WITHOUT ROWID;
