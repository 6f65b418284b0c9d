"""On PostgreSQL: the database restarted mid fan-out, and ledger news reaching every instance."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from bot.chat import ChatRef, Post, SentRef
from bot.outbox import Item
from bot.storage import ledger as lq
from bot.storage import outbox as q
from bot.storage.notify import Notifier
from bot.storage.postgres import PostgresDatabase
from tests.fakes.recording import RecordingAdapter
from tests.postgres import PostgresServer
from tests.test_instances import eventually, held, instance_config, running


@dataclass
class SlowAdapter(RecordingAdapter):
    """Takes a few milliseconds per send, like a real network call."""

    async def send(
        self, chat: ChatRef, post: Post, *, key: str, reply_to: str | None = None
    ) -> SentRef:
        await asyncio.sleep(0.003)
        return await super().send(chat, post, key=key, reply_to=reply_to)


async def test_a_database_restart_pauses_the_fan_out_which_then_completes(
    tmp_path: Path, postgres: PostgresServer, pg_url: str
) -> None:
    n = 600
    adapter = SlowAdapter()
    async with running(instance_config(tmp_path, pg_url, "a"), adapter) as a:

        async def holds_console() -> bool:
            return "console" in held(a)

        await eventually(holds_console, 5, "the console role")
        targets = [q.Target("console", f"p{i}", "private", "subscriber") for i in range(n)]
        await a.services.outbox.enqueue_alone(Item("announcement", Post.text("hi")), targets)

        async def mid_way() -> bool:
            return len(adapter.sent) >= 100

        await eventually(mid_way, 20, "the fan-out to start")
        await asyncio.to_thread(postgres.restart)
        db = a.db

        async def done() -> bool:
            try:
                return not await q.backlog(db)
            except Exception:
                return False  # the pool is still reconnecting

        await eventually(done, 60, "the fan-out to complete after the restart")
        rows = await db.fetch_all("SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state")
        assert {r["state"]: r["n"] for r in rows} == {"sent": n}
    sent = [chat for chat, _, _ in adapter.sent]
    assert set(sent) == {f"p{i}" for i in range(n)}  # 0 lost
    assert len(sent) - n <= 8  # duplicates: at most what was in flight (console re-sends)


async def test_a_payment_on_one_instance_reaches_listeners_on_another(pg_url: str) -> None:
    writer, reader = await PostgresDatabase.open(pg_url), await PostgresDatabase.open(pg_url)
    notifier = Notifier(reader)
    heard: asyncio.Queue[str] = asyncio.Queue()
    notifier.on_ledger_change(heard.put_nowait)
    stop = asyncio.Event()
    listening = asyncio.ensure_future(notifier.run(stop))
    try:
        assert await asyncio.wait_for(heard.get(), 5) == ""  # "look once" when it starts
        entry = lq.NewEntry("cs_1", "payment", 5000, "USD", 1.0, campaign="russia")
        async with writer.transaction() as tx:
            await lq.append_entries(tx, [entry], 2.0)
        assert await asyncio.wait_for(heard.get(), 2) == "russia"
        async with writer.transaction() as tx:  # a replay appends nothing: no news
            await lq.append_entries(tx, [entry], 3.0)
        await asyncio.sleep(0.3)
        assert heard.empty()
    finally:
        stop.set()
        await asyncio.wait_for(listening, 10)
        await notifier.aclose()
        await writer.close()
        await reader.close()
