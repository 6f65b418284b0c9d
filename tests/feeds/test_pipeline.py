"""Feeds -> outbox -> delivery, with real HTTP on 127.0.0.1 and a real SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_app
from bot.context import Services
from bot.feeds.parse import parse_feed
from bot.outbox.delivery import DeliveryWorker
from bot.storage import Database, open_database
from bot.storage import feeds as fq
from tests.fakes.feed_server import FeedServer, feed_server
from tests.fakes.recording import RecordingAdapter
from tests.helpers import FakeClock, make_config, real_feed_params, require_real_feed, rss

A = ("a", "First article", "https://example.org/a")
B = ("b", "Second article", "https://example.org/b")
C = ("c", "Third article", "https://example.org/c")


@dataclass
class Pipeline:
    services: Services
    adapter: RecordingAdapter
    worker: DeliveryWorker
    server: FeedServer
    clock: FakeClock

    async def poll(self) -> None:
        await self.services.poller.poll_all()
        await self.worker.drain(horizon=0.0, limit=10.0)

    def channel(self) -> list[str]:
        return self.adapter.texts("news")

    def admin(self) -> list[str]:
        return self.adapter.texts("admin")


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with feed_server() as s:
        yield s


async def make_pipeline(tmp_path: Path, db: Database, server: FeedServer, **feed: Any) -> Pipeline:
    feed_cfg = {
        "name": "org",
        "url": server.url("/feed.xml"),
        "channels": ["news"],
        "allow_private": True,
        **feed,
    }
    config = make_config(
        tmp_path,
        channels=[{"name": "news", "platform": "console", "chat": "news"}],
        feeds=[feed_cfg],
    )
    clock = FakeClock()
    adapter = RecordingAdapter()
    app = build_app(config, db, adapters={"console": adapter}, clock=clock)
    await app.services.poller.__aenter__()
    return Pipeline(app.services, adapter, app.workers["console"], server, clock)


@pytest.fixture
async def pipe(tmp_path: Path, db: Database, server: FeedServer) -> AsyncIterator[Pipeline]:
    p = await make_pipeline(tmp_path, db, server)
    try:
        yield p
    finally:
        await p.services.poller.__aexit__(None, None, None)


async def test_first_poll_posts_only_the_backfill_then_only_new_items(pipe: Pipeline) -> None:
    pipe.server.bodies["/feed.xml"] = rss(B, A)
    await pipe.poll()
    assert len(pipe.channel()) == 1
    assert "Second article" in pipe.channel()[0]

    await pipe.poll()  # unchanged: 304, nothing new
    assert len(pipe.channel()) == 1

    pipe.server.bodies["/feed.xml"] = rss(C, B, A)
    await pipe.poll()
    assert len(pipe.channel()) == 2
    assert "Third article" in pipe.channel()[1]
    assert "First article" not in "".join(pipe.channel())


async def test_not_modified_is_a_conditional_get(pipe: Pipeline) -> None:
    pipe.server.bodies["/feed.xml"] = rss(A)
    await pipe.poll()
    await pipe.poll()
    feed = await fq.get_feed(pipe.services.db, "org")
    assert feed is not None
    assert feed.etag is not None
    assert feed.last_error is None


async def test_republished_article_with_new_guid_is_not_posted_again(pipe: Pipeline) -> None:
    pipe.server.bodies["/feed.xml"] = rss(A)
    await pipe.poll()
    again = ("a-new-guid", "First article (updated)", "https://EXAMPLE.org/a?utm_source=x#top")
    pipe.server.bodies["/feed.xml"] = rss(again, A)
    await pipe.poll()
    assert len(pipe.channel()) == 1


async def test_script_in_a_title_arrives_as_text(pipe: Pipeline) -> None:
    pipe.server.bodies["/feed.xml"] = rss(
        ("x", "<script>alert(1)</script> Hello", "https://e.org/x")
    )
    await pipe.poll()
    assert "<script>alert(1)</script> Hello" in pipe.channel()[0]


async def test_a_feed_that_becomes_html_fails_alone_and_admins_hear_once(
    tmp_path: Path, db: Database, server: FeedServer
) -> None:
    config_admin = make_config(
        tmp_path,
        channels=[{"name": "news", "platform": "console", "chat": "news"}],
        feeds=[
            {
                "name": "bad",
                "url": server.url("/bad.xml"),
                "channels": ["news"],
                "allow_private": True,
            },
            {
                "name": "good",
                "url": server.url("/good.xml"),
                "channels": ["news"],
                "allow_private": True,
            },
        ],
    )
    adapter = RecordingAdapter()
    app = build_app(config_admin, db, adapters={"console": adapter})
    services, worker = app.services, app.workers["console"]
    server.bodies["/bad.xml"] = b"<!doctype html><html><body><h1>Moved</h1></body></html>"
    server.bodies["/good.xml"] = rss(A)
    async with services.poller:
        for _ in range(4):
            results = {r.feed: r for r in await services.poller.poll_all()}
            assert results["good"].error is None
            assert results["bad"].error is not None
            assert "not an RSS/Atom/RDF feed" in results["bad"].error
        server.bodies["/bad.xml"] = rss(B)
        await services.poller.poll_all()
    await worker.drain(horizon=0.0, limit=10.0)
    admin = adapter.texts("admin")
    assert len(admin) == 2
    assert "Feed 'bad' has failed 3 times in a row" in admin[0]
    assert "Feed 'bad' works again." in admin[1]
    news = adapter.texts("news")
    assert len(news) == 2


async def test_retry_after_pushes_the_next_poll_back(pipe: Pipeline) -> None:
    pipe.server.status["/feed.xml"] = 503
    pipe.server.headers["/feed.xml"] = {"Retry-After": "7200"}
    await pipe.poll()
    feed = await fq.get_feed(pipe.services.db, "org")
    assert feed is not None
    assert feed.failures == 1
    assert feed.next_poll_at >= pipe.clock.now + 7200


async def test_failures_back_off_exponentially_up_to_a_day(pipe: Pipeline) -> None:
    pipe.server.status["/feed.xml"] = 500
    delays = []
    for _ in range(12):
        await pipe.services.poller.poll_all()
        feed = await fq.get_feed(pipe.services.db, "org")
        assert feed is not None
        delays.append(feed.next_poll_at - pipe.clock.now)
    assert delays[0] == 600
    assert delays[1] == 1200
    assert delays[-1] == 24 * 3600


async def test_include_exclude_and_topics(tmp_path: Path, db: Database, server: FeedServer) -> None:
    pipe = await make_pipeline(
        tmp_path, db, server, backfill=5, exclude=["sponsored"], topics={"Russia": "russia"}
    )
    try:
        await fq.save_subscriber(db, "console", "alice", ["russia"], 0)
        await fq.save_subscriber(db, "console", "bob", [], 0)
        await fq.save_subscriber(db, "console", "carol", ["other"], 0)
        body = rss(("s", "A Sponsored post", "https://e.org/s"), B).replace(
            b"<title>Second article</title>",
            b"<title>Second article</title><category>Russia</category>",
        )
        server.bodies["/feed.xml"] = body
        await pipe.poll()
        assert [t.split("\n")[0] for t in pipe.channel()] == [
            "Second article (https://example.org/b)"
        ]
        assert len(pipe.adapter.texts("alice")) == 1
        assert len(pipe.adapter.texts("bob")) == 1
        # Private copies offer related articles; the channel post stays clean.
        assert "→ More like this: send /related " in pipe.adapter.texts("alice")[0]
        assert "More like this" not in pipe.channel()[0]
        assert pipe.adapter.texts("carol") == []
    finally:
        await pipe.services.poller.__aexit__(None, None, None)


async def test_edit_on_update_edits_earlier_posts(
    tmp_path: Path, db: Database, server: FeedServer
) -> None:
    pipe = await make_pipeline(tmp_path, db, server, edit_on_update=True)
    try:
        server.bodies["/feed.xml"] = rss(A)
        await pipe.poll()
        server.bodies["/feed.xml"] = rss(("a", "First article, corrected", "https://example.org/a"))
        await pipe.poll()
        assert len(pipe.channel()) == 1
        assert len(pipe.adapter.edits) == 1
        assert "corrected" in pipe.adapter.edits[0][2]
    finally:
        await pipe.services.poller.__aexit__(None, None, None)


async def test_changed_text_is_not_edited_by_default(pipe: Pipeline) -> None:
    pipe.server.bodies["/feed.xml"] = rss(A)
    await pipe.poll()
    pipe.server.bodies["/feed.xml"] = rss(
        ("a", "First article, corrected", "https://example.org/a")
    )
    await pipe.poll()
    assert pipe.adapter.edits == []
    assert len(pipe.channel()) == 1


async def test_state_survives_a_restart(tmp_path: Path, server: FeedServer) -> None:
    server.bodies["/feed.xml"] = rss(A)
    for _ in range(2):
        async with open_database(tmp_path / "bot.sqlite3") as db:
            pipe = await make_pipeline(tmp_path, db, server)
            await pipe.poll()
            await pipe.services.poller.__aexit__(None, None, None)
            posted = await fq.posted_counts(db)
    assert posted == {"org": 1}


@pytest.mark.parametrize("path", real_feed_params())
async def test_real_world_feed_over_http_posts_its_newest_article(
    tmp_path: Path, db: Database, server: FeedServer, path: Path | None
) -> None:
    body = require_real_feed(path).read_bytes()
    server.content_type = "application/xml"  # no charset: the document declares its own
    server.bodies["/feed.xml"] = body
    pipe = await make_pipeline(tmp_path, db, server)
    try:
        await pipe.poll()
        (text,) = pipe.channel()
        title_line = text.split("\n")[0]
        assert title_line.strip()
        assert "<p>" not in text
        assert "Read more (http" in text
        await pipe.poll()
        assert len(pipe.channel()) == 1
        # Every entry is remembered, so none of the backlog is posted later.
        seen = await fq.seen_articles(db, "org")
        expected = parse_feed(body, url=server.url("/feed.xml")).articles
        assert len(seen) == len(expected)
    finally:
        await pipe.services.poller.__aexit__(None, None, None)
