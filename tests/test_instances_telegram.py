"""Two instances on one PostgreSQL database against the Telegram stand-in, as one bot.

Only the telegram role's holder long-polls (Telegram answers a second getUpdates
consumer with 409 Conflict), the role moves with its polling to the standby, and a
command is answered once whichever instance receives it: a webhook update that reaches
an instance without the sender role is answered by the holder, inside its pacing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, build_app
from bot.config import Config, parse_config
from bot.storage.postgres import PostgresDatabase
from tests.fakes.telegram import TelegramApi, telegram_api

USER, OTHER, ADMIN = 1001, 1002, 2002
TOKEN_ENV = "OUTREACH_TEST_TG_TOKEN"


def telegram_config(
    api: TelegramApi,
    tmp_path: Path,
    url: str,
    name: str,
    channels: list[dict[str, str]] | None = None,
    **telegram: Any,
) -> Config:
    return parse_config(
        {
            "telegram": {
                "enabled": True, "api_base": f"{api.url}/bot", "token_env": TOKEN_ENV,
                **telegram,
            },
            "storage": {"url": url, "lease": 1.0, "path": str(tmp_path / f"{name}.sqlite3")},
            "instance": {"name": name},
            "admins": {"telegram": [ADMIN]},
            "channels": channels or [],
        },
        base_dir=tmp_path,
    )  # fmt: skip


@contextlib.asynccontextmanager
async def running(config: Config) -> AsyncIterator[App]:
    assert config.storage.url is not None
    db = await PostgresDatabase.open(config.storage.url)
    app = build_app(config, db)
    task = asyncio.ensure_future(app.run())
    try:
        yield app
    finally:
        app.request_stop()
        await asyncio.wait_for(task, 30)
        await app.close()
        await db.close()


def holds_telegram(app: App) -> bool:
    return app.coordination is not None and "telegram" in app.coordination.held()


async def until(condition: Any, limit: float, what: str) -> None:
    start = asyncio.get_running_loop().time()
    while not condition():
        assert asyncio.get_running_loop().time() - start < limit, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def replies(api: TelegramApi, chat: int) -> list[str]:
    return [m.text for m in api.bot_messages(chat)]


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TelegramApi]:
    async with telegram_api() as server:
        monkeypatch.setenv(TOKEN_ENV, server.token)
        yield server


async def test_only_the_telegram_role_holder_long_polls(
    api: TelegramApi, tmp_path: Path, pg_url: str
) -> None:
    a_cfg, b_cfg = (telegram_config(api, tmp_path, pg_url, n) for n in ("a", "b"))
    async with contextlib.AsyncExitStack() as a_stack, contextlib.AsyncExitStack() as b_stack:
        a = await a_stack.enter_async_context(running(a_cfg))
        await until(lambda: holds_telegram(a), 10, "a to take the telegram role")
        b = await b_stack.enter_async_context(running(b_cfg))
        await asyncio.sleep(2.5)  # b looks for free roles several times meanwhile
        assert not holds_telegram(b)
        api.inject_text(USER, "/help")
        await api.wait_until(lambda: len(replies(api, USER)) == 1, 10)
        assert api.stats.conflicts_409 == 0  # never two getUpdates at once

        await a_stack.aclose()  # a stops: b takes the role, and with it the polling
        await until(lambda: holds_telegram(b), 10, "b to take the telegram role")
        api.inject_text(OTHER, "/help")
        await api.wait_until(lambda: len(replies(api, OTHER)) == 1, 10)
        await asyncio.sleep(0.5)
        assert len(replies(api, USER)) == 1  # each command answered once
        assert api.stats.conflicts_409 == 0


async def test_a_webhook_update_to_an_instance_without_the_sender_role_is_answered_once(
    api: TelegramApi, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTREACH_TEST_TG_SECRET", "s3cret-token")
    ports = [_free_port(), _free_port()]
    cfgs = [
        telegram_config(
            api, tmp_path, pg_url, name, webhook_url=f"http://127.0.0.1:{port}/telegram",
            webhook_listen=f"127.0.0.1:{port}", webhook_secret_env="OUTREACH_TEST_TG_SECRET",
        )
        for name, port in zip(("b", "a"), ports, strict=True)
    ]  # fmt: skip
    async with running(cfgs[0]) as b:
        await until(lambda: holds_telegram(b), 10, "b to take the telegram role")
        # a starts last, so its webhook is the one Telegram calls; b sends.
        async with running(cfgs[1]) as a:
            await api.wait_until(lambda: api.webhook is not None and str(ports[1]) in
                                 api.webhook["url"], 10)  # fmt: skip
            assert not holds_telegram(a)
            api.inject_text(USER, "/help")
            await api.wait_until(lambda: len(replies(api, USER)) == 1, 10)
            await asyncio.sleep(1.0)
            assert len(replies(api, USER)) == 1
            assert b.db is not None
            rows = await b.db.fetch_all(
                "SELECT target, state FROM deliveries WHERE platform = 'telegram'"
            )
            assert [(r["target"], r["state"]) for r in rows] == [("reply", "sent")]
    assert api.stats.conflicts_409 == 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
