"""Two instances on one PostgreSQL database against the strict Telegram stand-in (Telegram's
flood limits as rolling windows): a fan-out whose sender is killed with SIGKILL finishes
on the other instance with nothing lost and not one 429 over the whole run, and a
scheduled announcement is posted once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.announcements.targets import AnnounceOptions
from bot.chat import Post
from bot.outbox import Item
from bot.storage import outbox as q
from bot.storage.postgres import PostgresDatabase
from bot.storage.roles import live_instances
from tests.fakes.telegram import TelegramApi, telegram_api
from tests.test_instances import eventually
from tests.test_instances_telegram import TOKEN_ENV, holds_telegram, running, telegram_config

CLI = [sys.executable, "-m", "bot.cli"]
CHANNEL = -1001
SUBSCRIBERS = 300  # ten seconds at Telegram's 30 messages a second
IN_FLIGHT = 8  # the delivery worker's concurrency: the most a kill can leave half done


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TelegramApi]:
    async with telegram_api() as server:
        monkeypatch.setenv(TOKEN_ENV, server.token)
        server.strict(overall_per_second=30, per_chat_per_second=1, per_group_per_minute=20)
        yield server


def _subprocess_config(tmp_path: Path, api: TelegramApi, url: str) -> Path:
    path = tmp_path / "a.toml"
    path.write_text(
        f'[telegram]\nenabled = true\napi_base = "{api.url}/bot"\ntoken_env = "{TOKEN_ENV}"\n'
        'delivery = "at_least_once"\n'
        f'[storage]\nurl = "{url}"\nlease = 1.0\npath = "{tmp_path / "a.sqlite3"}"\n'
        '[instance]\nname = "a"\n'
    )
    return path


async def test_a_fan_out_whose_sender_is_killed_finishes_with_no_429_and_nothing_lost(
    api: TelegramApi, tmp_path: Path, pg_url: str
) -> None:
    users = [10_000 + i for i in range(SUBSCRIBERS)]
    for user in users:
        api.add_chat(user)
    proc = await asyncio.create_subprocess_exec(
        *CLI, "run", "-c", str(_subprocess_config(tmp_path, api, pg_url)), "--log-level", "ERROR",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    watch = await PostgresDatabase.open(pg_url)
    try:

        async def a_is_sender() -> bool:
            found = {i.name: i.roles for i in await live_instances(watch, ["telegram"])}
            return "telegram" in found.get("a", ())

        await eventually(a_is_sender, 30, "the subprocess to take the telegram role")
        b_cfg = telegram_config(api, tmp_path, pg_url, "b", delivery="at_least_once")
        async with running(b_cfg) as b:
            targets = [q.Target("telegram", str(u), "private", "subscriber") for u in users]
            await b.services.outbox.enqueue_alone(Item("announcement", Post.text("hi")), targets)
            await api.wait_until(lambda: api.stats.sent >= SUBSCRIBERS // 3, 30)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            sent_by_a = api.stats.sent

            async def all_final() -> bool:
                return not await q.backlog(watch)

            await eventually(all_final, 60, "the fan-out to finish on b")
            assert holds_telegram(b)
            states = await watch.fetch_all(
                "SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state"
            )
            assert {r["state"]: r["n"] for r in states} == {"sent": SUBSCRIBERS}
    finally:
        await watch.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    per_chat = Counter({u: len(api.bot_messages(u)) for u in users})
    assert min(per_chat.values()) == 1  # 0 lost
    assert sent_by_a < SUBSCRIBERS, "the kill came after the end"
    assert sum(per_chat.values()) - SUBSCRIBERS <= IN_FLIGHT  # duplicates: what was in flight
    assert api.stats.rejected_429 == 0  # the limits held across both senders, takeover included


async def test_a_scheduled_announcement_is_posted_once_by_two_instances(
    api: TelegramApi, tmp_path: Path, pg_url: str
) -> None:
    api.add_chat(CHANNEL, "channel", title="News")
    channels = [{"name": "news", "platform": "telegram", "chat": str(CHANNEL)}]
    cfgs = [telegram_config(api, tmp_path, pg_url, n, channels=channels) for n in ("a", "b")]
    async with running(cfgs[0]) as a, running(cfgs[1]) as b:
        when = datetime.now(UTC) + timedelta(seconds=3)
        options = AnnounceOptions(("news",), when.replace(microsecond=0), pin=False, text="Rally")
        draft = await b.services.announcements.draft("admin", options)
        reply = await b.services.announcements.confirm(draft.id, "admin", None)
        assert "is scheduled for" in reply
        await api.wait_until(lambda: len(api.bot_messages(CHANNEL)) == 1, 15)
        await asyncio.sleep(3.0)  # both schedulers would have had several ticks by now
        roles = [set(app.coordination.held()) for app in (a, b) if app.coordination]
        assert sum("announcements" in held for held in roles) == 1
    assert [m.text for m in api.bot_messages(CHANNEL)] == ["Rally"]
    assert api.stats.rejected_429 == 0
