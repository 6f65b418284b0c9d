"""Typed queries for feeds, articles, subscribers and gone channels."""

from __future__ import annotations

import json
from collections.abc import Container
from dataclasses import dataclass

from bot.storage.db import Database, Executor, Row, Tx, marks


@dataclass(frozen=True, slots=True)
class FeedRow:
    name: str
    configured_url: str
    url: str
    etag: str | None
    last_modified: str | None
    first_polled_at: float | None
    last_poll_at: float | None
    last_ok_at: float | None
    last_error: str | None
    failures: int
    failure_notified: bool
    next_poll_at: float


_SELECT_FEED = (
    "SELECT name, configured_url, url, etag, last_modified, first_polled_at, last_poll_at, "
    "last_ok_at, last_error, failures, failure_notified, next_poll_at FROM feeds WHERE name = ?"
)


def _feed(r: Row) -> FeedRow:
    return FeedRow(
        name=r["name"],
        configured_url=r["configured_url"],
        url=r["url"],
        etag=r["etag"],
        last_modified=r["last_modified"],
        first_polled_at=r["first_polled_at"],
        last_poll_at=r["last_poll_at"],
        last_ok_at=r["last_ok_at"],
        last_error=r["last_error"],
        failures=r["failures"],
        failure_notified=bool(r["failure_notified"]),
        next_poll_at=r["next_poll_at"],
    )


async def sync_feed(db: Database, name: str, configured_url: str, now: float) -> FeedRow:
    """Make sure a configured feed has a row; a changed URL starts it afresh."""
    async with db.transaction() as tx:
        row = await tx.fetch_one(_SELECT_FEED, (name,))
        if row is None or row["configured_url"] != configured_url:
            await tx.execute("DELETE FROM feeds WHERE name = ?", (name,))
            await tx.execute(
                "INSERT INTO feeds (name, configured_url, url, next_poll_at) VALUES (?, ?, ?, ?)",
                (name, configured_url, configured_url, now),
            )
    found = await get_feed(db, name)
    assert found is not None
    return found


async def all_feeds(db: Executor) -> dict[str, FeedRow]:
    rows = await db.fetch_all(_SELECT_FEED.partition(" WHERE ")[0])
    return {str(r["name"]): _feed(r) for r in rows}


async def get_feed(db: Executor, name: str) -> FeedRow | None:
    row = await db.fetch_one(_SELECT_FEED, (name,))
    return None if row is None else _feed(row)


async def record_success(
    db: Executor,
    name: str,
    *,
    now: float,
    next_poll_at: float,
    url: str,
    etag: str | None,
    last_modified: str | None,
) -> None:
    await db.execute(
        "UPDATE feeds SET url = ?, etag = ?, last_modified = ?, last_poll_at = ?, last_ok_at = ?, "
        "last_error = NULL, failures = 0, failure_notified = 0, next_poll_at = ?, "
        "first_polled_at = COALESCE(first_polled_at, ?) WHERE name = ?",
        (url, etag, last_modified, now, now, next_poll_at, now, name),
    )


async def record_not_modified(
    db: Database, name: str, *, now: float, next_poll_at: float, url: str
) -> None:
    await db.execute(
        "UPDATE feeds SET url = ?, last_poll_at = ?, last_ok_at = ?, last_error = NULL, "
        "failures = 0, failure_notified = 0, next_poll_at = ? WHERE name = ?",
        (url, now, now, next_poll_at, name),
    )


async def record_failure(
    db: Database, name: str, *, now: float, next_poll_at: float, error: str, notified: bool
) -> None:
    await db.execute(
        "UPDATE feeds SET last_poll_at = ?, last_error = ?, failures = failures + 1, "
        "failure_notified = ?, next_poll_at = ? WHERE name = ?",
        (now, error, int(notified), next_poll_at, name),
    )


@dataclass(frozen=True, slots=True)
class SeenArticle:
    id: int
    content_hash: str
    posted: bool


async def seen_articles(db: Executor, feed: str) -> dict[str, SeenArticle]:
    rows = await db.fetch_all(
        "SELECT key, id, content_hash, posted FROM articles WHERE feed = ?", (feed,)
    )
    return {str(r["key"]): SeenArticle(r["id"], r["content_hash"], bool(r["posted"])) for r in rows}


async def canonicals_posted(db: Executor, canonical_urls: list[str]) -> set[str]:
    """Which of `canonical_urls` an article already posted has (one query)."""
    wanted = sorted({u for u in canonical_urls if u})
    if not wanted:
        return set()
    rows = await db.fetch_all(
        f"SELECT DISTINCT canonical_url FROM articles "  # noqa: S608
        f"WHERE posted = 1 AND canonical_url IN ({marks(wanted)})",
        tuple(wanted),
    )
    return {str(r["canonical_url"]) for r in rows}


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    """An article as stored (the storage layer's own shape, not the feed's)."""

    feed: str
    key: str
    canonical_url: str
    url: str
    title: str
    author: str
    summary: str
    image_url: str | None
    categories: tuple[str, ...]
    published_at: float | None
    content_hash: str


_INSERT_ARTICLE = (
    "INSERT INTO articles (feed, key, canonical_url, url, title, author, summary, image_url, "
    "categories, published_at, content_hash, seen_at, posted) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _article_params(a: ArticleRecord, posted: bool, now: float) -> tuple[object, ...]:
    categories = json.dumps(list(a.categories), ensure_ascii=False)
    return (
        a.feed, a.key, a.canonical_url, a.url, a.title, a.author, a.summary, a.image_url,
        categories, a.published_at, a.content_hash, now, int(posted),
    )  # fmt: skip


async def insert_article(tx: Tx, a: ArticleRecord, *, posted: bool, now: float) -> int:
    """Record an article; call inside a transaction. Returns its id."""
    row = await tx.fetch_one(_INSERT_ARTICLE + " RETURNING id", _article_params(a, posted, now))
    assert row is not None
    return int(row["id"])


_ROWS_PER_INSERT = 500  # 13 parameters a row, well under SQLite's 32,766


async def insert_articles(
    tx: Tx, records: list[ArticleRecord], posted: Container[str], now: float
) -> dict[str, int]:
    """Record a poll's new articles (those keyed in `posted` as posted) in one statement
    per 500 (a first poll sees many); returns each one's id by key."""
    ids: dict[str, int] = {}
    for start in range(0, len(records), _ROWS_PER_INSERT):
        chunk = records[start : start + _ROWS_PER_INSERT]
        values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
        params = [p for a in chunk for p in _article_params(a, a.key in posted, now)]
        rows = await tx.fetch_all(
            _INSERT_ARTICLE.partition(" VALUES ")[0] + f" VALUES {values} RETURNING id, key",
            tuple(params),
        )
        ids.update((str(r["key"]), int(r["id"])) for r in rows)
    return ids


async def update_article_content(tx: Tx, article_id: int, a: ArticleRecord) -> None:
    await tx.execute(
        "UPDATE articles SET title = ?, summary = ?, author = ?, image_url = ?, url = ?, "
        "content_hash = ? WHERE id = ?",
        (a.title, a.summary, a.author, a.image_url, a.url, a.content_hash, article_id),
    )


async def article_items(db: Executor, article_id: int) -> list[tuple[int, str]]:
    """The outbox items (id, post JSON) that carried an article (channel and private copies)."""
    rows = await db.fetch_all(
        "SELECT id, post FROM outbox_items WHERE kind = 'article' AND ref = ? ORDER BY id",
        (str(article_id),),
    )
    return [(int(r["id"]), str(r["post"])) for r in rows]


async def posted_counts(db: Executor) -> dict[str, int]:
    rows = await db.fetch_all(
        "SELECT feed, COUNT(*) AS n FROM articles WHERE posted = 1 GROUP BY feed"
    )
    return {str(r["feed"]): int(r["n"]) for r in rows}


# --- subscribers ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscriber:
    platform: str
    chat_id: str
    topics: tuple[str, ...]


async def get_subscriber(db: Executor, platform: str, chat_id: str) -> Subscriber | None:
    row = await db.fetch_one(
        "SELECT topics FROM subscribers WHERE platform = ? AND chat_id = ? AND active = 1",
        (platform, chat_id),
    )
    return None if row is None else Subscriber(platform, chat_id, tuple(json.loads(row["topics"])))


async def save_subscriber(
    db: Database, platform: str, chat_id: str, topics: list[str], now: float
) -> None:
    await db.execute(
        "INSERT INTO subscribers (platform, chat_id, topics, active, created_at) "
        "VALUES (?, ?, ?, 1, ?) ON CONFLICT (platform, chat_id) DO UPDATE SET "
        "topics = excluded.topics, active = 1",
        (platform, chat_id, json.dumps(sorted(set(topics))), now),
    )


async def remove_subscriber(db: Database, platform: str, chat_id: str) -> bool:
    changed = await db.execute(
        "DELETE FROM subscribers WHERE platform = ? AND chat_id = ?", (platform, chat_id)
    )
    return changed > 0


async def deactivate_subscriber(db: Database, platform: str, chat_id: str) -> None:
    await db.execute(
        "UPDATE subscribers SET active = 0 WHERE platform = ? AND chat_id = ?", (platform, chat_id)
    )


async def move_subscriber(db: Database, platform: str, old_id: str, new_id: str) -> None:
    """The chat's subscription follows it to its new id (replacing one already there)."""
    async with db.transaction() as tx:
        moved = await tx.fetch_one(
            "SELECT 1 AS found FROM subscribers WHERE platform = ? AND chat_id = ?",
            (platform, old_id),
        )
        if moved is None:
            return
        await tx.execute(
            "DELETE FROM subscribers WHERE platform = ? AND chat_id = ?", (platform, new_id)
        )
        await tx.execute(
            "UPDATE subscribers SET chat_id = ? WHERE platform = ? AND chat_id = ?",
            (new_id, platform, old_id),
        )


async def active_subscribers(db: Executor, platforms: list[str]) -> list[Subscriber]:
    rows = await db.fetch_all(
        f"SELECT platform, chat_id, topics FROM subscribers "  # noqa: S608
        f"WHERE active = 1 AND platform IN ({marks(platforms)}) ORDER BY created_at",
        tuple(platforms),
    )
    # One string per platform name, and the empty topics list read without json: a pool
    # of 100,000 subscribers is read for every article.
    names = {p: p for p in platforms}
    return [
        Subscriber(
            names.get(r["platform"], r["platform"]),
            str(r["chat_id"]),
            () if r["topics"] == "[]" else tuple(json.loads(r["topics"])),
        )
        for r in rows
    ]


# --- channels the platform told us are gone ------------------------------------


GONE = "gone"
PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class ChannelState:
    """A configured channel that is not posting: gone (the bot was removed) or paused."""

    name: str
    state: str  # GONE or PAUSED
    since: float
    reason: str


async def mark_channel_gone(db: Database, name: str, reason: str, now: float) -> bool:
    """Returns True the first time (a paused channel may become gone), so the admins are
    told once."""
    changed = await db.execute(
        "INSERT INTO channels_gone (name, since, reason, state) VALUES (?, ?, ?, 'gone') "
        "ON CONFLICT (name) DO UPDATE SET state = 'gone', since = excluded.since, "
        "reason = excluded.reason WHERE channels_gone.state != 'gone'",
        (name, now, reason),
    )
    return changed == 1


async def mark_channel_paused(db: Database, name: str, reason: str, now: float) -> bool:
    """Returns True when the channel was posting until now (a gone one stays gone)."""
    changed = await db.execute(
        "INSERT INTO channels_gone (name, since, reason, state) VALUES (?, ?, ?, 'paused') "
        "ON CONFLICT (name) DO NOTHING",
        (name, now, reason),
    )
    return changed == 1


async def channel_states(db: Executor) -> dict[str, ChannelState]:
    """Every configured channel that is gone or paused, by name."""
    rows = await db.fetch_all("SELECT name, state, since, reason FROM channels_gone")
    return {
        str(r["name"]): ChannelState(str(r["name"]), str(r["state"]), r["since"], r["reason"])
        for r in rows
    }


async def move_channel(db: Database, platform: str, old_id: str, new_id: str) -> None:
    """Remember that a configured chat id now lives under another id."""
    await db.execute(
        "INSERT INTO bot_state (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (f"chat-moved:{platform}:{old_id}", new_id),
    )


async def current_chat_id(db: Executor, platform: str, chat_id: str) -> str:
    """Follow recorded moves (at most a few hops) from a configured chat id."""
    for _ in range(5):
        row = await db.fetch_one(
            "SELECT value FROM bot_state WHERE key = ?", (f"chat-moved:{platform}:{chat_id}",)
        )
        if row is None:
            break
        chat_id = str(row["value"])
    return chat_id


async def gone_channels(db: Executor) -> set[str]:
    """Channels nothing is enqueued for (paused ones still collect their posts)."""
    rows = await db.fetch_all("SELECT name FROM channels_gone WHERE state = 'gone'")
    return {str(r["name"]) for r in rows}


async def clear_channel_gone(db: Database, name: str) -> bool:
    """The channel posts again; False if it was neither gone nor paused."""
    return await db.execute("DELETE FROM channels_gone WHERE name = ?", (name,)) == 1
