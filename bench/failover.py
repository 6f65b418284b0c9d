"""Failover on PostgreSQL: SIGKILL of the sender role's holder to the first message sent by
the instance that takes the role over.

    python -m bench.failover [--runs 10] [--lease 10] [--rows 3000]

Instances are `outreach-bot run` processes (console platform, so that each one's sends
are lines on its own stdout, read here with the time each arrives) on one temporary
PostgreSQL database (bench/pg.py). Each run: a fan-out of `--rows` rows is written to
the outbox and the holder of the console role is woken (NOTIFY, as an enqueue on any
instance does); once the holder has sent some of it, it gets SIGKILL; the figure is the
time from the kill to the first line the standby prints. Then the standby (the new
holder) finishes the fan-out, a new standby is started, and the next run kills the
new holder. Printed: each run's time, p50, p95 and the target `lease + 2 s`
(`ratio` = p95 / target, target ≤ 1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from bench.pg import new_database, temporary_postgres
from bot.chat import Post
from bot.chat.codec import post_to_json
from bot.storage import outbox as q
from bot.storage.notify import OUTBOX
from bot.storage.postgres import PostgresDatabase, open_postgres
from bot.storage.roles import live_instances

SEND_PREFIX = "── bot → "
ROLE = "console"


@dataclass
class Instance:
    name: str
    process: asyncio.subprocess.Process
    sends: list[float] = field(default_factory=list)  # time.monotonic() of each send line
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            if line.decode(errors="replace").startswith(SEND_PREFIX):
                self.sends.append(time.monotonic())


async def start(folder: Path, url: str, lease: float, name: str) -> Instance:
    config = folder / f"{name}.toml"
    config.write_text(
        f'[console]\nenabled = true\nuser = "alice"\n'
        f'[storage]\nurl = "{url}"\nlease = {lease}\npath = "{folder / "unused.sqlite3"}"\n'
        f'[instance]\nname = "{name}"\n'
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "-c", str(config), "--log-level", "ERROR",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    instance = Instance(name, process)
    instance.reader = asyncio.ensure_future(instance.read())
    return instance


async def holder(db: PostgresDatabase) -> str | None:
    for live in await live_instances(db, [ROLE]):
        if ROLE in live.roles:
            return live.name
    return None


async def until(check: object, limit: float, what: str) -> None:
    assert callable(check)
    deadline = time.monotonic() + limit
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {limit:.0f}s waiting for {what}")
        await asyncio.sleep(0.02)


async def fan_out(db: PostgresDatabase, rows: int, run: int) -> None:
    targets = [q.Target(ROLE, f"r{run}-{i}", "private", "subscriber") for i in range(rows)]
    async with db.transaction() as tx:
        await q.insert_item(
            tx, kind="announcement", ref=None, post_json=post_to_json(Post.text(f"run {run}")),
            targets=targets,
        )  # fmt: skip
    await db.execute("SELECT pg_notify(?, ?)", (OUTBOX, ROLE))


async def failovers(url: str, folder: Path, args: argparse.Namespace) -> list[float]:
    times: list[float] = []
    instances: dict[str, Instance] = {}
    async with open_postgres(url) as db:
        try:
            first = await start(folder, url, args.lease, "i0")
            instances[first.name] = first
            await until(partial(_is, db, first.name), 60, "the first instance to take the role")
            standby = await start(folder, url, args.lease, "i1")
            instances[standby.name] = standby
            for run in range(1, args.runs + 1):
                await asyncio.sleep(args.lease / 2)  # the standby is up and looking for roles
                current = await holder(db)
                assert current is not None
                victim = instances.pop(current)
                survivor = next(iter(instances.values()))
                await fan_out(db, args.rows, run)
                before = len(victim.sends)
                await until(partial(_sent, victim, before + 50), 30, "the holder to send")
                killed_at = time.monotonic()
                victim.process.send_signal(signal.SIGKILL)
                await victim.process.wait()
                seen = len(survivor.sends)
                await until(partial(_sent, survivor, seen + 1), args.lease * 3 + 30, "a takeover")
                first_send = next(t for t in survivor.sends[seen:] if t > killed_at)
                times.append(first_send - killed_at)
                print(f"run {run}: {times[-1]:.2f}s", file=sys.stderr, flush=True)
                await until(partial(_drained, db), 120, "the fan-out to finish")
                fresh = await start(folder, url, args.lease, f"i{run + 1}")
                instances[fresh.name] = fresh
        finally:
            for instance in instances.values():
                with contextlib.suppress(ProcessLookupError):
                    instance.process.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(instance.process.wait(), 30)
    return times


async def _is(db: PostgresDatabase, name: str) -> bool:
    return await holder(db) == name


async def _sent(instance: Instance, count: int) -> bool:
    return len(instance.sends) >= count


async def _drained(db: PostgresDatabase) -> bool:
    return not await q.backlog(db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--lease", type=float, default=10.0)
    parser.add_argument("--rows", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-failover-") as tmp, temporary_postgres() as pg:
        url = asyncio.run(new_database(pg, "bench_failover"))
        times = asyncio.run(failovers(url, Path(tmp), args))
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18] if len(times) > 1 else times[0]
    target = args.lease + 2.0
    print(
        f"runs={len(times)} lease={args.lease:g} p50_s={statistics.median(times):.2f} "
        f"p95_s={p95:.2f} max_s={max(times):.2f} times={','.join(f'{t:.2f}' for t in times)} "
        f"ratio={p95 / target:.3f} target=1.0 target_s={target:.1f}"
    )


if __name__ == "__main__":
    main()
