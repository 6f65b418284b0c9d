-- Full-text search over every article the bot has seen (titles, summaries, categories).
-- porter: "protest" finds "protesters"; unicode61 with diacritics folded for other scripts.
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, summary, categories,
    content = 'articles', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

-- Index what earlier versions already stored.
INSERT INTO articles_fts (articles_fts) VALUES ('rebuild');

CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, summary, categories)
    VALUES (new.id, new.title, new.summary, new.categories);
END;

CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, categories)
    VALUES ('delete', old.id, old.title, old.summary, old.categories);
END;

CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary, categories ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, summary, categories)
    VALUES ('delete', old.id, old.title, old.summary, old.categories);
    INSERT INTO articles_fts (rowid, title, summary, categories)
    VALUES (new.id, new.title, new.summary, new.categories);
END;

CREATE INDEX articles_recent ON articles (COALESCE(published_at, seen_at) DESC);
