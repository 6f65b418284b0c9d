"""Several instances on one PostgreSQL database behave as one bot.

Roles move to a standby when their holder's connection drops; a fan-out whose sender is
killed with SIGKILL finishes on the other instance with nothing lost; work enqueued on one
instance wakes the sender on another (NOTIFY); duplicate Stripe events delivered to both
instances at once give exact totals and post each milestone once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from bot.app import App, build_app
from bot.chat import Post
from bot.config import Config
from bot.outbox import Item
from bot.storage import outbox as q
from bot.storage.postgres import PostgresDatabase
from bot.storage.roles import live_instances
from tests.donations.conftest import RUSSIA, SECRET_KEY, donation_config
from tests.fakes.recording import RecordingAdapter
from tests.fakes.stripe_api import charge_refunded, checkout_completed
from tests.helpers import make_config

CLI = [sys.executable, "-m", "bot.cli"]
ROLES = ["console", "feeds", "announcements"]


async def eventually(check: Callable[[], Awaitable[bool]], limit: float, what: str) -> float:
    """Wait until `check()` holds; return how long it took (fails after `limit` seconds)."""
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < limit, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def instance_config(tmp_path: Path, url: str, name: str) -> Config:
    return make_config(tmp_path, storage={"url": url, "lease": 1.0}, instance={"name": name})


@contextlib.asynccontextmanager
async def running(config: Config, adapter: RecordingAdapter) -> AsyncIterator[App]:
    """An instance built as production builds it, running until the block ends."""
    assert config.storage.url is not None
    db = await PostgresDatabase.open(config.storage.url)
    app = build_app(config, db, adapters={adapter.platform: adapter})
    task = asyncio.ensure_future(app.run())
    try:
        yield app
    finally:
        app.request_stop()
        await asyncio.wait_for(task, 30)
        await app.close()
        await db.close()


def held(app: App) -> list[str]:
    assert app.coordination is not None
    return app.coordination.coordinator.held()


async def test_roles_move_to_the_standby_when_the_holder_drops(tmp_path: Path, pg_url: str) -> None:
    a_cfg, b_cfg = (instance_config(tmp_path, pg_url, n) for n in ("a", "b"))
    async with running(a_cfg, RecordingAdapter()) as a:

        async def a_holds_all() -> bool:
            return held(a) == sorted(ROLES)

        await eventually(a_holds_all, 5, "a to take every role")
        async with running(b_cfg, RecordingAdapter()) as b:
            await asyncio.sleep(1.5)  # more than a lease: b tried, and got nothing
            assert held(b) == []
            db = a.db
            assert isinstance(db, PostgresDatabase)
            instances = {i.name: i.roles for i in await live_instances(db, ROLES)}
            assert instances == {"a": tuple(sorted(ROLES, key=_key_order)), "b": ()}
            await db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'outreach-bot:a'"
            )

            async def b_holds_all() -> bool:
                return held(b) == sorted(ROLES)

            took = await eventually(b_holds_all, 5, "b to take the roles over")
            assert took < 1.0 + 2.0  # within the lease (1 s) and a little
            assert held(a) == []  # a noticed, and its jobs stopped


def _key_order(role: str) -> int:
    from bot.storage.roles import role_key

    return role_key(role)


def _subprocess_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "a.toml"
    path.write_text(
        '[console]\nenabled = true\nuser = "alice"\n'
        f'[storage]\nurl = "{url}"\nlease = 1.0\n[instance]\nname = "a"\n'
    )
    return path


async def _read_sends(stream: asyncio.StreamReader, into: list[str]) -> None:
    prefix = "── bot → "
    while line := await stream.readline():
        text = line.decode()
        if text.startswith(prefix):
            into.append(text[len(prefix) :].split(" ")[0])


async def test_a_fan_out_whose_sender_is_killed_finishes_on_the_other_instance(
    tmp_path: Path, pg_url: str
) -> None:
    n = 2000
    a_sent: list[str] = []
    proc = await asyncio.create_subprocess_exec(
        *CLI, "run", "-c", str(_subprocess_config(tmp_path, pg_url)), "--log-level", "WARNING",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert proc.stdout is not None
    reader = asyncio.ensure_future(_read_sends(proc.stdout, a_sent))
    b_adapter = RecordingAdapter()
    watch = await PostgresDatabase.open(pg_url)
    try:

        async def a_is_sender() -> bool:
            found = {i.name: i.roles for i in await live_instances(watch, ROLES)}
            return "console" in found.get("a", ())

        await eventually(a_is_sender, 30, "the subprocess to take the console role")
        async with running(instance_config(tmp_path, pg_url, "b"), b_adapter) as b:
            db = b.db
            assert isinstance(db, PostgresDatabase)
            targets = [q.Target("console", f"p{i}", "private", "subscriber") for i in range(n)]
            # Enqueued on b: a (the sender) hears of it through NOTIFY, not by polling.
            await b.services.outbox.enqueue_alone(Item("announcement", Post.text("hi")), targets)

            async def a_is_mid_way() -> bool:
                return len(a_sent) >= 150

            await eventually(a_is_mid_way, 20, "the subprocess to start sending")
            proc.send_signal(signal.SIGKILL)
            await proc.wait()

            async def all_final() -> bool:
                backlog = await q.backlog(db)
                return not backlog

            await eventually(all_final, 60, "the fan-out to finish on b")
            assert "console" in held(b)
            states = await db.fetch_all(
                "SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state"
            )
            assert {r["state"]: r["n"] for r in states} == {"sent": n}
    finally:
        await watch.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        reader.cancel()
    b_sent = [chat for chat, _, _ in b_adapter.sent]
    assert a_sent, "the subprocess sent nothing before it was killed"
    assert b_sent, "the other instance sent nothing after the kill"
    assert set(a_sent) | set(b_sent) == {f"p{i}" for i in range(n)}  # 0 lost
    duplicates = len(a_sent) + len(b_sent) - n
    assert duplicates <= 8  # at most what was in flight (the worker's concurrency)


async def test_duplicate_stripe_events_on_two_instances_count_once(
    tmp_path: Path, pg_url: str
) -> None:
    cfgs = [
        donation_config(
            tmp_path, [RUSSIA], storage={"url": pg_url, "lease": 1.0}, instance={"name": n}
        )
        for n in ("a", "b")
    ]
    env = {"STRIPE_SECRET_KEY": SECRET_KEY}
    dbs = [await PostgresDatabase.open(pg_url) for _ in cfgs]
    apps = [
        build_app(c, d, environ=env, adapters={"console": RecordingAdapter()})
        for c, d in zip(cfgs, dbs, strict=True)
    ]
    try:
        # 24 × $1,000 towards a $20,000 goal, one of them refunded in two steps.
        events = [
            checkout_completed(f"cs_{i}", 100_000, payment_intent=f"pi_{i}") for i in range(24)
        ]
        events += [
            charge_refunded("ch_3", "pi_3", 100_000, 40_000),
            charge_refunded("ch_3", "pi_3", 100_000, 100_000),
        ]
        stream = events * 2  # every event twice...
        random.Random(21).shuffle(stream)

        async def deliver(app: App, share: list[dict[str, object]]) -> None:
            ledger = app.services.donations.ledger if app.services.donations else None
            assert ledger is not None
            for event in share:
                await ledger.apply_event(event)

        # ...half to each instance, and the first few to both at the same moment.
        await asyncio.gather(
            deliver(apps[0], stream[::2] + events[:5]), deliver(apps[1], stream[1::2] + events[:5])
        )
        for app in apps:
            ledger = app.services.donations.ledger if app.services.donations else None
            assert ledger is not None
            (progress,) = await ledger.progress(["russia"])
            # The fully refunded gift is no longer counted as a donation.
            assert (progress.raised, progress.donations) == (23 * 100_000, 23)
        rows = await dbs[0].fetch_all("SELECT threshold FROM milestones ORDER BY threshold")
        assert [r["threshold"] for r in rows] == [25, 50, 75, 100]
        items = await dbs[0].fetch_one(
            "SELECT COUNT(*) AS n FROM outbox_items WHERE kind = 'milestone'"
        )
        assert items is not None
        assert items["n"] == 4  # each milestone posted once, whichever instance saw it
    finally:
        for app in apps:
            await app.close()
        for d in dbs:
            await d.close()
