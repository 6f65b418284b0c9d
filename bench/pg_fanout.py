"""Fan-out on PostgreSQL against SQLite: CPU per delivered message, measured in one run.

    python -m bench.pg_fanout [--chats 3000] [--rate 300]

The same article to the same N Telegram private chats through the bot's real
delivery path (as `bench/fanout.py`: the Bot API stand-in in its own process
enforcing a strict rolling window of R sends a second and one a second per chat,
the bot's outbox, worker, pacer and Telegram adapter, built by `build_app`), once
on SQLite (`synchronous=FULL`, a temp file) and once on PostgreSQL (a temporary
durable server: fsync and synchronous commits on; the bot as one instance holding
the telegram role, its claims fenced by the role's lock). Printed per backend: the
rate the stand-in accepted, its 429s, and the CPU seconds of the bot's process per
delivered message; `ratio` is PostgreSQL's CPU per message over SQLite's (target
≤ 1.3). `pg_server_cpu_ms` is the PostgreSQL server processes' own CPU per message,
outside the ratio, as the stand-in's is (SQLite does that work inside the bot).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.fanout import FIRST_USER, Outcome, article_post, stand_in, started
from bench.pg import backend_cpu, new_database, temporary_postgres
from bot.adapters.telegram import TelegramAdapter
from bot.adapters.telegram_render import TELEGRAM_LIMITS
from bot.app import build_app
from bot.config import parse_config
from bot.outbox import Item
from bot.storage import Database, open_storage
from bot.storage import outbox as q
from bot.storage.postgres import PostgresDatabase


@dataclasses.dataclass
class Measured:
    delivered: int
    cpu: float  # this process, during the fan-out
    server_cpu: float = 0.0  # PostgreSQL's backends, during the fan-out
    outcome: Outcome | None = None


async def _server_pids(db: Database) -> list[int]:
    if not isinstance(db, PostgresDatabase):
        return []
    rows = await db.fetch_all("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    return [int(r["pid"]) for r in rows]


async def _holds(held: Callable[[], list[str]], role: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while role not in held():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {role} role was not taken within {limit:.0f}s")
        await asyncio.sleep(0.05)


async def fan_out(
    url: str, token: str, chats: int, rate: float, storage: dict[str, Any]
) -> Measured:
    """One fan-out through the bot on the storage `storage` names."""
    with tempfile.TemporaryDirectory() as tmp:
        data = {
            "console": {"enabled": False},
            "telegram": {"enabled": True, "api_base": f"{url}/bot"},
            "storage": {"path": str(Path(tmp) / "bot.sqlite3"), **storage},
            "instance": {"name": "bench"},
        }
        config = parse_config(data, base_dir=Path(tmp), environ={"TELEGRAM_BOT_TOKEN": token})
        async with open_storage(config.storage_target()) as db:
            limits = dataclasses.replace(TELEGRAM_LIMITS, global_rate=rate)
            adapter = TelegramAdapter(
                token=token, api_base=f"{url}/bot", poll_timeout=1, limits=limits
            )
            app = build_app(config, db, adapters={"telegram": adapter})
            task = asyncio.create_task(app.run())
            try:
                await started(adapter)
                if app.coordination is not None:  # PostgreSQL: wait for the sender role
                    await _holds(app.coordination.held, "telegram")
                targets = [
                    q.Target("telegram", str(FIRST_USER + n), "private", "subscriber")
                    for n in range(chats)
                ]
                pids = await _server_pids(db)
                server_cpu, cpu = backend_cpu(pids), time.process_time()
                item = await app.services.outbox.enqueue_alone(
                    Item("article", article_post()), targets
                )
                assert item is not None
                counts: dict[str, int] = {}
                async with asyncio.timeout(chats / rate * 2 + 30):
                    while sum(counts.get(s, 0) for s in q.FINAL_STATES) < chats:
                        await asyncio.sleep(0.1)
                        counts = await q.item_counts(db, item)
                cpu = time.process_time() - cpu
                server_cpu = backend_cpu(pids) - server_cpu
                return Measured(counts.get(q.SENT, 0), cpu, server_cpu)
            finally:
                app.request_stop()
                async with asyncio.timeout(30):
                    await task
                await app.close()


def measure(chats: int, rate: int, storage: dict[str, Any]) -> Measured:
    with stand_in(chats, rate) as server:
        run = asyncio.run(fan_out(server.url, server.token, chats, float(rate), storage))
        run.outcome = server.finish()
    assert run.outcome.sent == run.delivered == chats, run
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chats", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=300)
    args = parser.parse_args()
    logging.getLogger("bot").setLevel(logging.ERROR)
    lite = measure(args.chats, args.rate, {})
    with temporary_postgres() as server:
        url = asyncio.run(new_database(server, "bench_fanout"))
        pg = measure(args.chats, args.rate, {"url": url})
    assert lite.outcome is not None
    assert pg.outcome is not None
    per = {name: run.cpu / run.delivered * 1000 for name, run in (("sqlite", lite), ("pg", pg))}
    print(
        f"chats={args.chats} rate={args.rate} sqlite_rate={lite.outcome.rate:.1f} "
        f"sqlite_429={lite.outcome.rejected_429} pg_rate={pg.outcome.rate:.1f} "
        f"pg_429={pg.outcome.rejected_429} pg_rate_ratio={pg.outcome.rate / args.rate:.3f} "
        f"sqlite_cpu_ms={per['sqlite']:.3f} pg_cpu_ms={per['pg']:.3f} "
        f"pg_server_cpu_ms={pg.server_cpu / pg.delivered * 1000:.3f} "
        f"ratio={per['pg'] / per['sqlite']:.3f} target=1.3"
    )


if __name__ == "__main__":
    main()
