"""Typed queries over the article archive: latest, full-text search, related articles.

Search uses SQLite's FTS5 (`MATCH`, `bm25`, `snippet`, from migration 0004); on
PostgreSQL the queries of `bot.storage.search_postgres` (a tsvector) answer instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from bot.storage import search_postgres
from bot.storage.db import Executor, Row, marks

# A word for the full-text query: letters and digits in any script.
_WORD = re.compile(r"\w+", re.UNICODE)
_RECENT = "COALESCE(a.published_at, a.seen_at)"


@dataclass(frozen=True, slots=True)
class ArchivedArticle:
    id: int
    feed: str
    title: str
    url: str
    summary: str
    categories: tuple[str, ...]
    when: float  # published time, else when the bot first saw it
    snippet: str = ""


_COLUMNS = (
    "a.id AS id, a.feed AS feed, a.title AS title, a.url AS url, a.summary AS summary, "
    f"a.categories AS categories, {_RECENT} AS recent"
)


def _article(r: Row, snippet: str = "") -> ArchivedArticle:
    return ArchivedArticle(
        id=r["id"], feed=r["feed"], title=r["title"], url=r["url"], summary=r["summary"],
        categories=tuple(json.loads(r["categories"])), when=r["recent"], snippet=snippet,
    )  # fmt: skip


def match_query(text: str, *, any_word: bool = False) -> str:
    """An FTS5 query from free text: each word quoted (no operators) and prefix-matched."""
    words = [w for w in _WORD.findall(text.lower()) if w]
    joiner = " OR " if any_word else " "
    return joiner.join(f'"{w}"*' for w in words)


async def latest(db: Executor, limit: int, scan: int = 500) -> list[ArchivedArticle]:
    """The newest articles, newest first (`scan` bounds how many a caller may filter)."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM articles a ORDER BY {_RECENT} DESC, a.id DESC LIMIT ?",  # noqa: S608
        (max(limit, scan),),
    )
    return [_article(r) for r in rows]


async def search(db: Executor, text: str, limit: int = 10) -> list[ArchivedArticle]:
    """Best matches first (titles weigh most), each with a snippet around the match."""
    if db.dialect == "postgres":
        found = await search_postgres.search(db, _COLUMNS, text, limit)
        return [_article(r, snippet=snippet) for r, snippet in found]
    query = match_query(text)
    if not query:
        return []
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS}, snippet(articles_fts, 1, '«', '»', '…', 16) AS snippet "  # noqa: S608
        "FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid "
        "WHERE articles_fts MATCH ? "
        "ORDER BY bm25(articles_fts, 10.0, 2.0, 5.0), a.id DESC LIMIT ?",
        (query, limit),
    )
    return [_article(r, snippet=r["snippet"]) for r in rows]


async def get_article(db: Executor, article_id: int) -> ArchivedArticle | None:
    row = await db.fetch_one(f"SELECT {_COLUMNS} FROM articles a WHERE a.id = ?", (article_id,))  # noqa: S608
    return None if row is None else _article(row)


async def similar_by_text(db: Executor, article: ArchivedArticle, limit: int) -> list[int]:
    """Ids of articles whose text shares the most words with `article`'s title."""
    if db.dialect == "postgres":
        return await search_postgres.similar_ids(db, article.title, article.id, limit)
    words = [w for w in _WORD.findall(article.title.lower()) if len(w) > 3]
    if not words:
        return []
    rows = await db.fetch_all(
        "SELECT rowid AS id FROM articles_fts WHERE articles_fts MATCH ? AND rowid != ? "
        "ORDER BY bm25(articles_fts, 10.0, 2.0, 5.0) LIMIT ?",
        (match_query(" ".join(words), any_word=True), article.id, limit),
    )
    return [int(r["id"]) for r in rows]


async def with_ids(db: Executor, ids: list[int]) -> list[ArchivedArticle]:
    if not ids:
        return []
    sql = f"SELECT {_COLUMNS} FROM articles a WHERE a.id IN ({marks(ids)})"  # noqa: S608
    rows = await db.fetch_all(sql, tuple(ids))
    return [_article(r) for r in rows]
