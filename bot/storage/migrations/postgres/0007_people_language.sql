-- PostgreSQL twin of ../0007_people_language.sql.
CREATE TABLE people (
    platform TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    language TEXT NOT NULL,
    PRIMARY KEY (platform, user_id)
);
