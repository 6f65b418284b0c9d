"""An article that asks for money, posted to a Telegram channel, carries a Donate button whose
deep link opens the donate flow for its campaign in a private chat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, build_app
from bot.config import parse_config
from bot.storage import open_database
from tests.fakes.feed_server import FeedServer, feed_server
from tests.fakes.telegram import TelegramApi, telegram_api
from tests.helpers import rss

NEW_USER, SUBSCRIBER, CHANNEL = 7001, 7002, -1009
APPEAL = ("a1", "Support Russian Anti-War Protesters", "https://example.org/appeal")


def config_data(api: TelegramApi, feeds: FeedServer, tmp_path: Path) -> dict[str, Any]:
    return {
        "telegram": {"enabled": True, "api_base": f"{api.url}/bot", "token_env": "TG_APPEAL"},
        "storage": {"path": str(tmp_path / "bot.sqlite3")},
        "channels": [{"name": "news", "platform": "telegram", "chat": str(CHANNEL)}],
        "feeds": [
            {
                "name": "org",
                "url": feeds.url("/feed.xml"),
                "channels": ["news"],
                "allow_private": True,
                "topics": {"news": "news"},
            }
        ],
        "campaigns": [
            {
                "id": "russia",
                "title": "Russian anti-war protesters",
                "earmark": "for Russian anti-war protesters",
                "goal": 20000,
                "match": ["anti-war"],
                "progress_on_posts": True,
            },
            {"id": "other", "title": "Other", "earmark": "other", "goal": 100},
        ],
        "donations": {"static_url": "https://donate.example.org/?c={campaign}&a={amount}"},
    }


@asynccontextmanager
async def running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[TelegramApi, App]]:
    async with telegram_api() as api, feed_server() as feeds:
        monkeypatch.setenv("TG_APPEAL", api.token)
        api.add_chat(CHANNEL, "channel")
        feeds.bodies["/feed.xml"] = rss(APPEAL)
        config = parse_config(config_data(api, feeds, tmp_path), base_dir=tmp_path)
        async with open_database(config.database_path()) as db:
            app = build_app(config, db)
            task = asyncio.create_task(app.run())
            try:
                yield api, app
            finally:
                app.request_stop()
                async with asyncio.timeout(15):
                    await task


async def test_the_channel_posts_donate_button_opens_the_campaigns_amounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(tmp_path, monkeypatch) as (api, _):
        await api.wait_until(lambda: len(api.bot_messages(CHANNEL)) == 1, 15)
        post = api.bot_messages(CHANNEL)[0]
        assert "Support Russian Anti-War Protesters" in post.text
        assert "$0 of $20,000 raised" in post.text  # progress_on_posts, as of sending
        buttons = [b for row in post.keyboard for b in row]
        assert [b["text"] for b in buttons] == ["Donate — Russian anti-war protesters"]
        url = buttons[0]["url"]
        assert url == "https://t.me/outreach_test_bot?start=donate-russia"

        api.open_deep_link(NEW_USER, url)
        await api.wait_until(lambda: len(api.bot_messages(NEW_USER)) == 1)
        menu = api.bot_messages(NEW_USER)[0]
        assert "Russian anti-war protesters" in menu.text
        commands = [b["callback_data"] for row in menu.keyboard for b in row]
        assert "/donate russia 50" in commands
        assert all(c.startswith("/donate russia ") for c in commands)


async def test_deep_links_for_progress_subscribe_and_unknown_payloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(tmp_path, monkeypatch) as (api, app):
        api.open_deep_link(NEW_USER, "https://t.me/outreach_test_bot?start=progress-russia")
        await api.wait_until(lambda: len(api.bot_messages(NEW_USER)) == 1)
        assert "of $20,000" in api.bot_messages(NEW_USER)[0].text

        api.open_deep_link(SUBSCRIBER, "https://t.me/outreach_test_bot?start=subscribe-news")
        await api.wait_until(lambda: len(api.bot_messages(SUBSCRIBER)) == 1)
        assert "Subscribed" in api.bot_messages(SUBSCRIBER)[0].text
        assert await app.services.subscriptions.topics_of("telegram", str(SUBSCRIBER)) == ("news",)

        for n, payload in enumerate(["donate-nosuch", "hello", "subscribe-nosuch"], start=1):
            api.open_deep_link(8000 + n, f"https://t.me/outreach_test_bot?start={payload}")
            await api.wait_until(lambda u=8000 + n: len(api.bot_messages(u)) == 1)
            assert "Send /help" in api.bot_messages(8000 + n)[0].text
        with pytest.raises(ValueError, match="start payload"):
            api.open_deep_link(NEW_USER, "https://t.me/outreach_test_bot?start=donate%20russia")


async def test_a_subscribers_private_copy_offers_the_amounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with telegram_api() as api, feed_server() as feeds:
        monkeypatch.setenv("TG_APPEAL", api.token)
        api.add_chat(CHANNEL, "channel")
        feeds.bodies["/feed.xml"] = rss(("a0", "Older news", "https://example.org/old"))
        config = parse_config(config_data(api, feeds, tmp_path), base_dir=tmp_path)
        async with open_database(config.database_path()) as db:
            app = build_app(config, db)
            task = asyncio.create_task(app.run())
            try:
                await api.wait_until(lambda: len(api.bot_messages(CHANNEL)) == 1, 15)
                assert not api.bot_messages(CHANNEL)[0].keyboard  # no appeal: no button
                api.inject_text(SUBSCRIBER, "/subscribe")
                await api.wait_until(lambda: len(api.bot_messages(SUBSCRIBER)) == 1)
                feeds.bodies["/feed.xml"] = rss(
                    APPEAL, ("a0", "Older news", "https://example.org/old")
                )
                await app.services.poller.poll_all()
                await api.wait_until(lambda: len(api.bot_messages(SUBSCRIBER)) == 2, 10)
            finally:
                app.request_stop()
                async with asyncio.timeout(15):
                    await task
        private = api.bot_messages(SUBSCRIBER)[1]
        assert "Support Russian anti-war protesters" in private.text
        commands = [b.get("callback_data") for row in private.keyboard for b in row]
        assert "/donate russia 50" in commands
        assert any(c and c.startswith("/related ") for c in commands)
        assert not any(b.get("url") for row in private.keyboard for b in row)
