"""The Telegram adapter as `bot.app.build_app` wires it from a config: menus and /cmd@bot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, build_app
from bot.config import parse_config
from bot.storage import feeds as fq
from bot.storage import open_database
from tests.fakes.telegram import TelegramApi, telegram_api

USER, ADMIN, GROUP, CHANNEL = 1001, 2002, -500, -1009


def config_data(api: TelegramApi, tmp_path: Path) -> dict[str, Any]:
    return {
        "telegram": {
            "enabled": True,
            "api_base": f"{api.url}/bot",
            "token_env": "OUTREACH_TEST_TG_TOKEN",
        },
        "storage": {"path": str(tmp_path / "bot.sqlite3")},
        "admins": {"telegram": [ADMIN]},
        "channels": [{"name": "news", "platform": "telegram", "chat": str(CHANNEL)}],
        "campaigns": [
            {
                "id": "russia",
                "title": "Russian anti-war protesters",
                "earmark": "for Russian anti-war protesters",
                "goal": 20000,
                "channels": ["news"],
            }
        ],
        "donations": {"static_url": "https://donate.example.org/?c={campaign}&a={amount}"},
    }


@asynccontextmanager
async def running(api: TelegramApi, tmp_path: Path) -> AsyncIterator[App]:
    config = parse_config(config_data(api, tmp_path), base_dir=tmp_path)
    async with open_database(config.database_path()) as db:
        app = build_app(config, db)
        task = asyncio.create_task(app.run())
        try:
            await api.wait_until(lambda: api.stats.calls["getUpdates"] > 0, 15)
            yield app
        finally:
            app.request_stop()
            async with asyncio.timeout(15):
                await task


async def test_donate_buttons_progress_card_and_a_pinned_announcement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with telegram_api() as api:
        monkeypatch.setenv("OUTREACH_TEST_TG_TOKEN", api.token)
        api.add_chat(CHANNEL, "channel")
        api.add_chat(ADMIN)
        async with running(api, tmp_path):
            api.inject_text(USER, "/donate")
            await api.wait_until(lambda: len(api.bot_messages(USER)) == 1)
            menu = api.bot_messages(USER)[0]
            labels = [b["text"] for row in menu.keyboard for b in row]
            assert "★ $50" in labels
            fifty = next(b for row in menu.keyboard for b in row if b["text"] == "★ $50")
            api.press_button(USER, menu.message_id, fifty["callback_data"])
            await api.wait_until(lambda: len(api.bot_messages(USER)) == 2)
            link = api.bot_messages(USER)[1]
            urls = [b.get("url") for row in link.keyboard for b in row]
            assert "https://donate.example.org/?c=russia&a=50" in urls

            api.inject_text(USER, "/progress")
            await api.wait_until(lambda: len(api.bot_messages(USER)) == 3)
            card = api.bot_messages(USER)[2]
            assert card.photo is not None
            assert card.photo.startswith("upload:")
            assert "of $20,000" in card.text

            api.inject_text(ADMIN, "/announce --to news --pin *Rally* on Sunday")
            await api.wait_until(lambda: len(api.bot_messages(ADMIN)) == 2)
            api.inject_text(ADMIN, "/confirm 1")
            await api.wait_until(lambda: len(api.bot_messages(CHANNEL)) == 1, 10)
            await api.wait_until(lambda: bool(api.pinned.get(CHANNEL)), 5)
    (post,) = api.bot_messages(CHANNEL)
    assert post.html == "<b>Rally</b> on Sunday"
    assert api.pinned[CHANNEL] == [post.message_id]


async def test_the_configured_bot_publishes_menus_and_answers_only_its_own_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with telegram_api() as api:
        monkeypatch.setenv("OUTREACH_TEST_TG_TOKEN", api.token)
        api.add_chat(ADMIN)
        data = {
            "telegram": {
                "enabled": True,
                "api_base": f"{api.url}/bot",
                "token_env": "OUTREACH_TEST_TG_TOKEN",
            },
            "storage": {"path": str(tmp_path / "bot.sqlite3")},
            "admins": {"telegram": [ADMIN]},
        }
        config = parse_config(data, base_dir=tmp_path)
        async with open_database(config.database_path()) as db:
            app = build_app(config, db)
            task = asyncio.create_task(app.run())
            try:
                await api.wait_until(lambda: api.stats.calls["getUpdates"] > 0, 15)
                api.inject_text(USER, "/help@OtherBot", chat_type="group", chat_id=GROUP)
                api.inject_text(USER, "/start@outreach_test_bot", chat_type="group", chat_id=GROUP)
                await api.wait_until(lambda: len(api.bot_messages(GROUP)) == 1)
                await asyncio.sleep(0.3)  # the /help for the other bot stays unanswered
            finally:
                app.request_stop()
                async with asyncio.timeout(15):
                    await task
    (answer,) = api.bot_messages(GROUP)
    assert "Send /help to see what I can do." in answer.text
    assert "announce" not in api.menu()
    assert {"start", "help", "subscribe"} <= set(api.menu())
    assert {"announce", "audit", "feeds"} <= set(api.menu(ADMIN))


async def test_latest_search_and_more_like_this_over_telegram(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with telegram_api() as api:
        monkeypatch.setenv("OUTREACH_TEST_TG_TOKEN", api.token)
        async with running(api, tmp_path) as app:
            async with app.services.db.transaction() as conn:
                for n, title in enumerate(
                    ["Protesters detained", "Fines for protesters", "Annual report"]
                ):
                    record = fq.ArticleRecord(
                        feed="org", key=str(n), canonical_url=f"https://e.org/{n}",
                        url=f"https://e.org/{n}", title=title, author="", summary=title,
                        image_url=None, categories=("Russia",), published_at=1000.0 + n,
                        content_hash=str(n),
                    )  # fmt: skip
                    await fq.insert_article(conn, record, posted=True, now=0)
            for text in ("/latest 2", "/search protest", "/related 1"):
                api.inject_text(USER, text)
            await api.wait_until(lambda: len(api.bot_messages(USER)) == 3)
    latest, search, related = api.bot_messages(USER)
    assert latest.html.startswith("<b>Latest articles</b>")
    assert '<a href="https://e.org/2">Annual report</a>' in latest.html
    assert "Fines for protesters" in search.text
    assert "Protesters detained" in search.text
    assert "Annual report" not in search.text
    assert "Protesters detained" not in related.text.split("\n", 1)[1]
    assert "Fines for protesters" in related.text
