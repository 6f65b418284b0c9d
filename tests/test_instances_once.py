"""`outreach-bot run --once` beside running instances on PostgreSQL: it takes only the
roles no live instance holds, so another instance's sends in flight are left alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.app import build_app
from bot.chat import Post
from bot.chat.codec import post_to_json
from bot.storage import outbox as q
from bot.storage.postgres import PostgresDatabase
from tests.fakes.recording import RecordingAdapter
from tests.test_instances import eventually, held, instance_config, running


async def _in_flight_row(db: PostgresDatabase) -> int:
    """A row as a live sender leaves it while it sends: claimed, `sending`."""
    async with db.transaction() as tx:
        await q.insert_item(
            tx, kind="announcement", ref=None, post_json=post_to_json(Post.text("hi")),
            targets=[q.Target("console", "p1", "private", "subscriber")],
        )  # fmt: skip
        await tx.execute("UPDATE deliveries SET state = 'sending'")
    row = await db.fetch_one("SELECT id FROM deliveries")
    assert row is not None
    return int(row["id"])


async def _state(db: PostgresDatabase, row_id: int) -> str:
    row = await db.fetch_one("SELECT state FROM deliveries WHERE id = ?", (row_id,))
    assert row is not None
    return str(row["state"])


async def test_run_once_leaves_a_live_senders_rows_and_recovers_a_dead_ones(
    tmp_path: Path, pg_url: str
) -> None:
    once_cfg = instance_config(tmp_path, pg_url, "cron")
    db = await PostgresDatabase.open(pg_url)
    try:
        async with running(instance_config(tmp_path, pg_url, "a"), RecordingAdapter()) as a:

            async def a_sends() -> bool:
                return "console" in held(a)

            await eventually(a_sends, 10, "a to take the console role")
            row_id = await _in_flight_row(db)
            cron = RecordingAdapter()
            await build_app(once_cfg, db, adapters={"console": cron}).run_once()
            assert await _state(db, row_id) == q.SENDING  # a's send in flight, left to a
            assert cron.sent == []
        # a is gone: its row is a crash's row now, and the next pass applies the crash rules.
        cron = RecordingAdapter()
        await asyncio.wait_for(build_app(once_cfg, db, adapters={"console": cron}).run_once(), 60)
        assert await _state(db, row_id) == q.SENT
        assert [chat for chat, _, _ in cron.sent] == ["p1"]
    finally:
        await db.close()
