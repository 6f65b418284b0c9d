"""Claims across instances: fenced by the sender role's lock, and rows a former holder
left `sending` handled under the crash rules only once no one else may be sending them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.chat import Post
from bot.chat.codec import post_to_json
from bot.cluster_takeover import Takeover
from bot.outbox.commits import DeliveryWrites
from bot.outbox.wake import WakeSignals
from bot.storage import outbox as q
from bot.storage.postgres import PostgresDatabase
from bot.storage.roles import FencedDatabase, RoleLocks, swap_holder


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[PostgresDatabase]:
    database = await PostgresDatabase.open(pg_url, instance="b")
    try:
        yield database
    finally:
        await database.close()


async def _rows(db: PostgresDatabase, n: int, state: str = q.PENDING) -> list[int]:
    async with db.transaction() as tx:
        await q.insert_item(
            tx, kind="announcement", ref=None, post_json=post_to_json(Post.text("hi")),
            targets=[q.Target("matrix", f"!r{i}", "group", "subscriber") for i in range(n)],
        )  # fmt: skip
        await tx.execute("UPDATE deliveries SET state = ?", (state,))
    return [int(r["id"]) for r in await db.fetch_all("SELECT id FROM deliveries ORDER BY id")]


async def _states(db: PostgresDatabase) -> list[str]:
    return [str(r["state"]) for r in await db.fetch_all("SELECT state FROM deliveries ORDER BY id")]


async def test_no_claim_once_the_role_lock_is_gone_even_before_its_holder_notices(
    db: PostgresDatabase,
) -> None:
    first, second = await _rows(db, 2)
    locks = RoleLocks(db, "a")
    await locks.connect()
    try:
        assert await locks.try_take("matrix")
        fenced = FencedDatabase(db, locks, "matrix")
        assert await q.claim(fenced, first, 1.0)
        # The lock connection alone drops (the pool's connections are fine).
        await db.execute("SELECT pg_terminate_backend(?)", (locks.pid,))
        await _gone(db, locks.pid)  # pg_terminate_backend only asks; the lock goes with it
        assert not await q.claim(fenced, second, 2.0)
        assert await _states(db) == [q.SENDING, q.PENDING]
        assert await q.claim(db, second, 3.0)  # unfenced (one instance): claims as before
    finally:
        await locks.close()


async def test_claims_committed_together_are_fenced_too(db: PostgresDatabase) -> None:
    """The delivery worker's group commit (bot/outbox/commits.py) claims through the same
    fence: nothing once the role's lock is gone."""
    first, second, third = await _rows(db, 3)
    locks = RoleLocks(db, "a")
    await locks.connect()
    try:
        assert await locks.try_take("matrix")
        writes = DeliveryWrites(FencedDatabase(db, locks, "matrix"))
        assert list(await asyncio.gather(writes.claim(first), writes.claim(second))) == [True] * 2
        await db.execute("SELECT pg_terminate_backend(?)", (locks.pid,))
        await _gone(db, locks.pid)
        assert not await writes.claim(third)
        assert await _states(db) == [q.SENDING, q.SENDING, q.PENDING]
    finally:
        await locks.close()


async def _gone(db: PostgresDatabase, pid: int) -> None:
    for _ in range(500):  # 10 s at most
        if not await db.fetch_one("SELECT 1 AS up FROM pg_stat_activity WHERE pid = ?", (pid,)):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"backend {pid} did not end")


def _takeover(db: PostgresDatabase, *, resend: bool, settle_after: float = 0.5) -> Takeover:
    return Takeover(
        db, "matrix", "b", resend=resend, wake=WakeSignals(), settle_after=settle_after,
        clock=lambda: 5.0,
    )  # fmt: skip


async def test_rows_of_a_former_holder_still_connected_are_resent_only_after_it_stopped(
    db: PostgresDatabase, pg_url: str
) -> None:
    await _rows(db, 3, q.SENDING)
    await swap_holder(db, "matrix", "a")
    former = await PostgresDatabase.open(pg_url, instance="a")  # a lost only its lock
    try:
        takeover = _takeover(db, resend=True)
        await takeover.on_take()
        assert await _states(db) == [q.SENDING] * 3  # a may still be sending them
        stop = asyncio.Event()
        await asyncio.wait_for(takeover.settle(stop), 5)
        assert await _states(db) == [q.PENDING] * 3  # re-sent now, same keys
    finally:
        await former.close()


async def test_rows_of_a_former_holder_that_is_gone_are_resent_at_once(
    db: PostgresDatabase,
) -> None:
    await _rows(db, 2, q.SENDING)
    await swap_holder(db, "matrix", "a")  # a was killed: no connection of its is left
    takeover = _takeover(db, resend=True, settle_after=60)
    await takeover.on_take()
    assert await _states(db) == [q.PENDING] * 2
    await asyncio.wait_for(takeover.settle(asyncio.Event()), 1)  # nothing left to wait for


async def test_rows_not_to_resend_become_unknown_at_once_even_if_the_holder_lives(
    db: PostgresDatabase, pg_url: str
) -> None:
    await _rows(db, 2, q.SENDING)
    await swap_holder(db, "matrix", "a")
    former = await PostgresDatabase.open(pg_url, instance="a")
    try:
        takeover = _takeover(db, resend=False, settle_after=60)
        await takeover.on_take()
        assert await _states(db) == [q.UNKNOWN] * 2
    finally:
        await former.close()


async def test_a_role_lost_before_the_wait_ends_leaves_the_rows_to_the_next_holder(
    db: PostgresDatabase, pg_url: str
) -> None:
    await _rows(db, 1, q.SENDING)
    await swap_holder(db, "matrix", "a")
    former = await PostgresDatabase.open(pg_url, instance="a")
    try:
        takeover = _takeover(db, resend=True, settle_after=60)
        await takeover.on_take()
        stop = asyncio.Event()
        stop.set()
        await asyncio.wait_for(takeover.settle(stop), 1)
        assert await _states(db) == [q.SENDING]
    finally:
        await former.close()


async def test_a_sender_taking_over_from_another_instance_lets_a_rolling_second_pass(
    db: PostgresDatabase,
) -> None:
    takeover = _takeover(db, resend=False)
    await takeover.on_take()  # the role's first holder ever
    assert takeover.first_send_after == 0.0
    await swap_holder(db, "matrix", "a")
    await takeover.on_take()  # after another instance: it may have sent a second's worth
    assert takeover.first_send_after == 1.0
    await takeover.on_take()  # after itself (its own worker has stopped)
    assert takeover.first_send_after == 0.0
