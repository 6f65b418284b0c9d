"""Full-text search on PostgreSQL: the `articles.search` tsvector of migration 0004.

The same contract as SQLite's FTS5 queries in `bot.storage.search`: each word of the
person's text must match (as a word prefix, or by its English stem: "protesters" finds
"protest"), titles weigh most, then categories, then summaries, and each hit has a snippet
with the match between « and ».
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.storage.db import Executor, Row

_WORD = re.compile(r"\w+", re.UNICODE)
# ts_rank's weights for D, C, B, A: summaries 2, categories 5, titles 10 (as bm25's in FTS5).
_WEIGHTS = "'{0.0, 0.2, 0.5, 1.0}'::float4[]"
_HEADLINE = "StartSel=«, StopSel=», MaxWords=16, MinWords=6, ShortWord=2, HighlightAll=false"


def words_of(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w]


def tsquery(words: list[str], *, any_word: bool = False) -> str:
    """SQL for a tsquery matching every word (any one with `any_word`), with `?` for each.

    A word matches as a prefix of a plain word or as its English stem; words are bound
    as parameters and only letters and digits, so no tsquery operator reaches the parser.
    """
    one = "(to_tsquery('simple', ? || ':*') || to_tsquery('english', ? || ':*'))"
    joiner = " || " if any_word else " && "
    return "(" + joiner.join([one] * len(words)) + ")"


def params(words: list[str]) -> list[str]:
    return [w for word in words for w in (word, word)]


async def search(db: Executor, columns: str, text: str, limit: int) -> list[tuple[Row, str]]:
    """Best matches first, each with its snippet."""
    words = words_of(text)
    if not words:
        return []
    query = tsquery(words)
    rows = await db.fetch_all(
        f"WITH q AS (SELECT {query} AS query) "  # noqa: S608 - constant SQL, bound words
        f"SELECT {columns}, ts_headline('simple', a.summary, q.query, '{_HEADLINE}') AS snippet, "
        f"ts_rank({_WEIGHTS}, a.search, q.query) AS rank "
        "FROM articles a, q WHERE a.search @@ q.query "
        "ORDER BY rank DESC, a.id DESC LIMIT ?",
        (*params(words), limit),
    )
    return [(r, str(r["snippet"])) for r in rows]


async def similar_ids(db: Executor, title: str, article_id: int, limit: int) -> list[int]:
    """Ids of other articles sharing the most words with `title` (words over 3 letters)."""
    words = [w for w in words_of(title) if len(w) > 3]
    if not words:
        return []
    query = tsquery(words, any_word=True)
    rows = await db.fetch_all(
        f"WITH q AS (SELECT {query} AS query) "  # noqa: S608 - constant SQL, bound words
        f"SELECT a.id AS id FROM articles a, q WHERE a.search @@ q.query AND a.id != ? "
        f"ORDER BY ts_rank({_WEIGHTS}, a.search, q.query) DESC, a.id DESC LIMIT ?",
        (*params(words), article_id, limit),
    )
    return [int(r["id"]) for r in rows]
