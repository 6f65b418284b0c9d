"""The article archive: /latest, /search (SQLite FTS5) and "more like this"."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from bot.app import ConsoleIO, build_app
from bot.archive import Archive
from bot.storage import Database
from bot.storage import feeds as fq
from bot.storage.db import bundled_migrations
from bot.storage.sqlite import SqliteDatabase
from tests.helpers import make_config

ARTICLES = [
    # (key, title, summary, categories, published)
    (
        "1",
        "Protesters detained in Moscow",
        "Police detained 40 people at a march.",
        ["Russia", "Protests"],
        1_000,
    ),
    (
        "2",
        "Legal aid for detained protesters",
        "Lawyers attended 120 hearings.",
        ["Russia", "Legal aid"],
        2_000,
    ),
    (
        "3",
        "Протесты в Санкт-Петербурге",
        "Задержаны участники акции против войны.",
        ["Russia"],
        3_000,
    ),
    ("4", "How we verify requests", "Every request for help is checked.", ["Transparency"], 4_000),
    (
        "5",
        "Fines paid in November",
        "The fund paid fines for protest participants.",
        ["Legal aid"],
        5_000,
    ),
    ("6", "Grüße aus München", "Solidarität mit den Demonstranten.", ["Germany"], 6_000),
    ("7", "Annual report", "What the fund did this year.", ["About us"], 7_000),
]


async def seed(db: Database) -> dict[str, int]:
    ids = {}
    async with db.transaction() as tx:
        for key, title, summary, cats, when in ARTICLES:
            record = fq.ArticleRecord(
                feed="org", key=key, canonical_url=f"https://e.org/{key}",
                url=f"https://e.org/{key}", title=title, author="", summary=summary,
                image_url=None, categories=tuple(cats), published_at=float(when),
                content_hash=key,
            )  # fmt: skip
            ids[key] = await fq.insert_article(tx, record, posted=True, now=float(when))
    return ids


def archive_for(db: Database) -> Archive:
    return Archive(db, {"russia": "russia", "protests": "protests", "legal aid": "legal-aid"})


async def test_search_finds_inflected_words_and_ranks_titles_first(db: Database) -> None:
    await seed(db)
    found = await archive_for(db).search("protest")
    titles = [a.title for a in found]
    assert set(titles[:2]) == {"Legal aid for detained protesters", "Protesters detained in Moscow"}
    assert "Fines paid in November" in titles  # "protest" in the summary only
    assert all("Протесты" not in t for t in titles)
    fines = next(a for a in found if a.title == "Fines paid in November")
    assert "«protest»" in fines.snippet


async def test_search_in_other_scripts_and_diacritics(db: Database) -> None:
    await seed(db)
    archive = archive_for(db)
    assert [a.title for a in await archive.search("протесты")] == ["Протесты в Санкт-Петербурге"]
    assert [a.title for a in await archive.search("Задержаны")] == ["Протесты в Санкт-Петербурге"]
    assert [a.title for a in await archive.search("munchen")] == ["Grüße aus München"]


async def test_search_treats_operators_as_words(db: Database) -> None:
    await seed(db)
    archive = archive_for(db)
    assert await archive.search('"') == []
    assert await archive.search("NOT OR AND") == []
    assert len(await archive.search("detained -police")) >= 1


async def test_latest_with_topic_and_limit(db: Database) -> None:
    await seed(db)
    archive = archive_for(db)
    assert [a.title for a in await archive.latest(2)] == ["Annual report", "Grüße aus München"]
    legal = await archive.latest(10, "legal-aid")
    assert [a.title for a in legal] == [
        "Fines paid in November",
        "Legal aid for detained protesters",
    ]
    by_category = await archive.latest(10, "Transparency")
    assert [a.title for a in by_category] == ["How we verify requests"]


async def test_related_excludes_the_article_and_respects_the_limit(db: Database) -> None:
    ids = await seed(db)
    archive = archive_for(db)
    related = await archive.related(ids["2"], limit=5)
    assert ids["2"] not in [a.id for a in related]
    assert len(related) <= 5
    titles = [a.title for a in related]
    assert "Protesters detained in Moscow" in titles
    assert "Fines paid in November" in titles
    assert [a.when for a in related] == sorted((a.when for a in related), reverse=True)
    assert len(await archive.related(ids["2"], limit=2)) == 2
    assert await archive.related(999) == []


async def test_fts_migration_indexes_articles_stored_before_it(tmp_path: Path) -> None:
    migrations = bundled_migrations()
    fts = next(v for v, name, _ in migrations if name.endswith("_search.sql"))
    db = await SqliteDatabase.open(tmp_path / "old.sqlite3")
    try:
        await db.migrate(migrations[: fts - 1])
        await seed(db)
        await db.migrate(migrations)
        found = await archive_for(db).search("verify")
        assert [a.title for a in found] == ["How we verify requests"]
    finally:
        await db.close()


async def test_commands_through_the_console(tmp_path: Path, db: Database) -> None:
    await seed(db)
    out = io.StringIO()
    config = make_config(
        tmp_path,
        channels=[{"name": "news", "platform": "console", "chat": "news"}],
        feeds=[{"name": "org", "url": "https://e.org/feed", "channels": ["news"],
                "topics": {"Legal aid": "legal-aid"}}],
    )  # fmt: skip
    stdin = io.StringIO(
        "/latest 2\n/search protesters\n/search zebra\n/related 2\n/latest 3 legal-aid\n"
    )
    app = build_app(config, db, ConsoleIO(stdin=stdin, stdout=out))
    app.services.poller.feeds.clear()  # no network in this test
    async with asyncio.timeout(20):
        await app.run()
    text = out.getvalue()
    assert "Latest articles\n\n• Annual report (https://e.org/7) · Jan 1, 1970" in text
    assert "Results for protesters" in text
    assert "Nothing matches “zebra”. Send /latest to see the newest articles." in text
    assert "More like “Legal aid for detained protesters”" in text
    assert "Latest articles on legal-aid" in text


@pytest.mark.parametrize("command", ["/related", "/related x", "/search"])
async def test_usage_messages(tmp_path: Path, db: Database, command: str) -> None:
    from bot.chat import ChatRef, Incoming, Sender
    from bot.chat.plain import render_plain
    from tests.fakes.recording import RecordingAdapter

    app = build_app(make_config(tmp_path), db, adapters={"console": RecordingAdapter()})
    reply = await app.router.handle(
        Incoming(ChatRef("console", "a"), Sender("console", "a"), command)
    )
    assert reply is not None
    assert render_plain(reply).startswith("Usage:")
