"""Group commit of the delivery worker's writes (bot/outbox/commits.py), and what a crash
leaves behind with it: a row is `sending` in the database before its message can leave,
and `sent` only once it has."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.outbox.commits import DeliveryWrites
from bot.storage import Database, Tx, open_database
from bot.storage import outbox as q

ROWS = 400


async def _queue(db: Database, rows: int, platform: str = "telegram") -> list[int]:
    async with db.transaction() as tx:
        targets = [q.Target(platform, str(1000 + n), "private", "subscriber") for n in range(rows)]
        item = await q.insert_item(tx, kind="article", ref=None, post_json='{"blocks":[]}',
                                   targets=targets, now=0.0)  # fmt: skip
    found = await db.fetch_all("SELECT id FROM deliveries WHERE item_id = ? ORDER BY id", (item,))
    return [int(r["id"]) for r in found]


class CountingDatabase:
    """The database, counting the transactions opened through it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.transactions = 0
        self.dialect = db.dialect

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        self.transactions += 1
        async with self.db.transaction() as tx:
            yield tx


async def test_writes_that_come_together_commit_together(db: Database) -> None:
    ids = await _queue(db, 50)
    counting = CountingDatabase(db)
    writes = DeliveryWrites(counting)  # type: ignore[arg-type]
    claimed = await asyncio.gather(*(writes.claim(i) for i in ids))
    assert claimed == [True] * 50
    assert counting.transactions == 1
    again = await asyncio.gather(writes.claim(ids[0]), writes.claim(ids[1]))
    assert list(again) == [False, False]  # already taken
    await asyncio.gather(*(writes.finish(q.Outcome(i, q.SENT, str(i))) for i in ids))
    assert counting.transactions == 3
    rows = await db.fetch_all("SELECT state, message_id, attempts FROM deliveries")
    assert {(r["state"], r["attempts"]) for r in rows} == {(q.SENT, 1)}
    assert sorted(int(r["message_id"]) for r in rows) == ids


async def test_a_write_waits_for_its_commit_and_later_writes_join_the_next(
    db: Database, tmp_path: Path
) -> None:
    ids = await _queue(db, 6)
    writes = DeliveryWrites(db)

    def committed_state(delivery_id: int) -> str:
        # Another connection sees only what is committed.
        with contextlib.closing(sqlite3.connect(tmp_path / "test.sqlite3")) as other:
            (state,) = other.execute(
                "SELECT state FROM deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
        return str(state)

    async def claim_then_look(delivery_id: int) -> str:
        assert await writes.claim(delivery_id)
        return committed_state(delivery_id)

    first = asyncio.create_task(claim_then_look(ids[0]))
    await asyncio.sleep(0)  # the first transaction is under way
    rest = [asyncio.create_task(claim_then_look(i)) for i in ids[1:]]
    assert await asyncio.gather(first, *rest) == [q.SENDING] * 6


async def test_an_outcome_shares_the_next_claims_transaction_or_waits_briefly(
    db: Database,
) -> None:
    ids = await _queue(db, 3)
    counting = CountingDatabase(db)
    writes = DeliveryWrites(counting)  # type: ignore[arg-type]
    assert await writes.claim(ids[0])
    assert await writes.claim(ids[1])
    assert counting.transactions == 2  # a claim is committed at once
    finished = asyncio.create_task(writes.finish(q.Outcome(ids[0], q.SENT, "1")))
    await asyncio.sleep(0)
    assert await writes.claim(ids[2])  # takes the waiting outcome along
    await finished
    assert counting.transactions == 3
    alone = asyncio.create_task(writes.finish(q.Outcome(ids[1], q.SENT, "2")))
    for _ in range(5):
        await asyncio.sleep(0)
    assert counting.transactions == 3  # no claim comes: it waits (OUTCOME_DELAY)
    await alone
    assert counting.transactions == 4
    rows = await db.fetch_all("SELECT id, state FROM deliveries ORDER BY id")
    assert [r["state"] for r in rows] == [q.SENT, q.SENT, q.SENDING]


async def test_a_failed_commit_fails_each_of_its_writes_and_writes_nothing(db: Database) -> None:
    ids = await _queue(db, 3)

    class Failing(CountingDatabase):
        @contextlib.asynccontextmanager
        async def transaction(self) -> AsyncIterator[Tx]:
            async with self.db.transaction() as tx:
                await tx.execute("UPDATE deliveries SET error = 'written' WHERE id = ?", (ids[2],))
                yield tx
                raise sqlite3.OperationalError("disk I/O error")

    writes = DeliveryWrites(Failing(db))  # type: ignore[arg-type]
    results = await asyncio.gather(
        writes.claim(ids[0]), writes.finish(q.Outcome(ids[1], q.SENT, "9")), return_exceptions=True
    )
    assert [type(r) for r in results] == [sqlite3.OperationalError] * 2
    rows = await db.fetch_all("SELECT state, error FROM deliveries")
    assert {(r["state"], r["error"]) for r in rows} == {(q.PENDING, None)}
    assert await DeliveryWrites(db).claim(ids[0])  # the next commit works


# --- kill -9 during a batched fan-out --------------------------------------------------

CHILD = textwrap.dedent(
    """
    import asyncio, os, random, sys
    from pathlib import Path
    from bot.chat import CallGate, PlatformLimits, SentRef
    from bot.outbox.delivery import DeliveryPolicy, DeliveryWorker
    from bot.storage import open_database

    db_path, log_path, platform = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)

    class Platform:
        # Records each message as the platform receives it, before answering.
        limits = PlatformLimits(text_max=4096, caption_max=1024, global_rate=0.0,
                                per_chat_interval=0.0)

        def __init__(self):
            self.platform = platform
            self.pacing = CallGate.unlimited()
            self.n = 0

        async def start(self, on_incoming):
            pass

        async def stop(self):
            pass

        async def send(self, chat, post, *, key, reply_to=None):
            await asyncio.sleep(random.uniform(0, 0.003))  # the request travels
            os.write(log, f"{chat.id}\\n".encode())  # received
            await asyncio.sleep(random.uniform(0, 0.003))  # the answer travels
            self.n += 1
            return SentRef(chat, str(self.n))

        async def edit(self, sent, post, *, key):
            raise AssertionError("no edits here")

    async def main():
        async with open_database(db_path) as db:
            worker = DeliveryWorker(db, Platform(),
                                    DeliveryPolicy(resend_uncertain=platform == "matrix",
                                                   concurrency=16))
            await worker.drain(horizon=0.0, limit=60.0)

    asyncio.run(main())
    """
)


def _run_child(db_path: Path, log_path: Path, platform: str, kill_after: int | None) -> None:
    """The worker in a child process; with `kill_after`, SIGKILL once that many arrived."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [sys.executable, "-c", CHILD, str(db_path), str(log_path), platform]
    child = subprocess.Popen(args, env=env)
    try:
        deadline = time.monotonic() + 60
        while child.poll() is None and time.monotonic() < deadline:
            if kill_after is not None and _arrived(log_path) >= kill_after:
                child.send_signal(signal.SIGKILL)
                break
            time.sleep(0.001)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    if kill_after is None:
        assert child.returncode == 0


def _arrived(log_path: Path) -> int:
    return log_path.read_bytes().count(b"\n") if log_path.exists() else 0


def _states(db_path: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        return {str(c): str(s) for c, s in db.execute("SELECT chat_id, state FROM deliveries")}


@pytest.mark.parametrize("platform", ["telegram", "matrix"])
async def test_kill_9_mid_fanout_loses_nothing_and_duplicates_only_in_flight(
    tmp_path: Path, platform: str
) -> None:
    """Per the policy: Telegram rows left `sending` become `unknown` and are not sent again
    (never a duplicate); Matrix rows are sent again (duplicates at most the sends in flight,
    which Synapse folds by transaction id). Nothing is lost, and a row is never `sent`
    unless its message arrived."""
    db_path, log_path = tmp_path / "bot.sqlite3", tmp_path / "arrived.log"
    async with open_database(db_path) as db:
        await _queue(db, ROWS, platform)
    await asyncio.to_thread(_run_child, db_path, log_path, platform, ROWS // 3)
    arrived = Counter(log_path.read_text().split())
    at_kill = _states(db_path)
    assert 0 < len(arrived) < ROWS
    assert all(n == 1 for n in arrived.values())
    # A message that arrived is never left pending: its claim was committed before it left.
    assert not [c for c in arrived if at_kill[c] == q.PENDING]
    # A row is sent only if its message arrived.
    assert not [c for c, s in at_kill.items() if s == q.SENT and c not in arrived]
    in_flight = [c for c, s in at_kill.items() if s == q.SENDING]
    assert in_flight  # the kill came with sends under way (claims committed in groups)

    async with open_database(db_path) as db:
        resend = ["matrix"] if platform == "matrix" else []
        await q.recover_sending(db, resend, time.time())
    await asyncio.to_thread(_run_child, db_path, log_path, platform, None)
    arrived = Counter(log_path.read_text().split())
    final = _states(db_path)
    never = [c for c, s in final.items() if c not in arrived]
    duplicates = sum(n - 1 for n in arrived.values())
    if platform == "telegram":
        assert duplicates == 0
        assert all(final[c] == q.UNKNOWN and c in in_flight for c in never)  # not lost
    else:
        assert never == []
        assert duplicates <= len(in_flight)
    assert set(final.values()) <= {q.SENT, q.UNKNOWN}
