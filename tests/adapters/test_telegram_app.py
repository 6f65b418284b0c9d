"""The Telegram adapter as `bot.app.build_app` wires it from a config: menus and /cmd@bot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.app import build_app
from bot.config import parse_config
from bot.storage import open_database
from tests.fakes.telegram_api import telegram_api

USER, ADMIN, GROUP = 1001, 2002, -500


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
