-- PostgreSQL twin of ../0004_search.sql: a weighted tsvector kept by PostgreSQL itself.
-- Both the 'simple' words (any script, prefix search) and the 'english' stems
-- ("protesters" finds "protest") go in; titles weigh most (A), categories next (B).
ALTER TABLE articles ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', title), 'A') || setweight(to_tsvector('english', title), 'A')
    || setweight(to_tsvector('simple', categories), 'B')
    || setweight(to_tsvector('english', categories), 'B')
    || setweight(to_tsvector('simple', summary), 'C')
    || setweight(to_tsvector('english', summary), 'C')
) STORED;
CREATE INDEX articles_search ON articles USING gin (search);

CREATE INDEX articles_recent ON articles (COALESCE(published_at, seen_at) DESC);
