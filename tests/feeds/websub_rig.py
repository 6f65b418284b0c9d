"""A running bot (recording adapter, console channel "news") with a feed that names a hub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from bot.app import App, build_app
from bot.cli import free_port
from bot.storage import open_database
from tests.fakes.feed_server import FeedServer, feed_server
from tests.fakes.recording import RecordingAdapter
from tests.fakes.websub_hub import Hub, websub_hub
from tests.helpers import make_config


def hub_rss(hub: str, self_url: str, *titles: str) -> bytes:
    """An RSS feed naming its hub and itself (atom:link), items newest first."""
    items = "".join(
        f"<item><guid isPermaLink='false'>{escape(t)}</guid><title>{escape(t)}</title>"
        f"<link>https://example.org/{escape(t.lower())}</link><category>news</category></item>"
        for t in titles
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?>"
        "<rss version='2.0' xmlns:atom='http://www.w3.org/2005/Atom'><channel>"
        "<title>Org</title><link>https://example.org/</link>"
        f"<atom:link rel='hub' href='{escape(hub)}'/>"
        f"<atom:link rel='self' href='{escape(self_url)}' type='application/rss+xml'/>"
        f"{items}</channel></rss>"
    ).encode()


@dataclass
class Rig:
    app: App
    hub: Hub
    feeds: FeedServer
    chat: RecordingAdapter
    public_url: str

    @property
    def topic(self) -> str:
        return self.feeds.url("/feed.xml")

    @property
    def callback(self) -> str:
        return f"{self.public_url}/websub/org"

    def publish_locally(self, *titles: str) -> bytes:
        body = hub_rss(self.hub.url, self.topic, *titles)
        self.feeds.bodies["/feed.xml"] = body
        return body

    def posts(self) -> list[str]:
        return self.chat.texts("news")


@asynccontextmanager
async def websub_bot(
    tmp_path: Path, *, hub_down: bool = False, lease: float | None = None, **extra: Any
) -> AsyncIterator[Rig]:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    async with feed_server() as feeds, websub_hub() as hub:
        hub.down, hub.lease_seconds = hub_down, lease
        feed = {"name": "org", "url": feeds.url("/feed.xml"), "channels": ["news"]}
        config = make_config(
            tmp_path,
            channels=[{"name": "news", "platform": "console", "chat": "news"}],
            feeds=[feed | {"allow_private": True}],
            web={"enabled": True, "listen": f"127.0.0.1:{port}", "public_url": public},
            **extra,
        )
        chat = RecordingAdapter()
        async with open_database(config.database_path()) as db:
            app = build_app(config, db, adapters={"console": chat})
            rig = Rig(app, hub, feeds, chat, public)
            rig.publish_locally("First")
            task = asyncio.create_task(app.run())
            try:
                yield rig
            finally:
                app.request_stop()
                async with asyncio.timeout(15):
                    await task
