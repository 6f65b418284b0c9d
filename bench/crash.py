"""kill -9 during a fan-out, restart, and count what was lost or sent twice.

    python -m bench.crash [--runs 20] [--telegram 450] [--matrix 550] [--seed N]
                          [--telegram-delivery at_most_once|at_least_once] [--postgres]

One bot (`outreach-bot run -c <config>`, a child process, so the kill is real)
with Telegram (the Bot API stand-in, served from this process) and Matrix (a
real Synapse started here), and one database kept across runs, as a deployment
keeps it. Its subscribers: `--telegram` private Telegram chats and `--matrix`
direct Matrix rooms, 1,000 rows a fan-out by default. Each run serves a new
article on a new feed; the bot's first poll of it queues one delivery row per
subscriber. At a random point of the fan-out (after k of its rows are final, k
uniform in 1..rows-1) the bot gets SIGKILL; the rows it left `sending` are
the sends in flight. It is then started again and runs until every row of the
run is final, then stopped with SIGTERM.

At the end every chat and room is read back: the stand-in's messages per chat,
and the bot's events per room from Synapse. Per (chat or room, article):
  - none arrived: lost, unless it is a Telegram row left `sending` at the kill,
    which the bot marks `unknown` and by its policy does not send again (unless
    `--telegram-delivery at_least_once`): that is counted as
    telegram_unknown_not_delivered, not as lost;
  - n arrived: n - 1 duplicates.
Telegram duplicates must not exceed the Telegram sends in flight at the kills.

With `--postgres` the database is PostgreSQL (a temporary durable server started
here, as tests/postgres.py starts one: bench/pg.py) instead of SQLite: the bot runs
as one named instance holding every role, so each restart takes its roles back and
applies the crash rules to what the killed process left `sending`; on Matrix it logs
in with the password (a device of its own, kept across restarts).

Pacing is the bot's own (Telegram 30 messages a second) and Synapse takes the
bot's Matrix sends at about 35 a second on a 2-core machine, so a fan-out takes
about max(telegram / 30, matrix / 35) seconds, plus two starts of the bot: the
default 450/550 split makes both about 15 s, and 20 runs about 7 minutes with
the set-up (550 rooms). Fewer rows make it shorter (--telegram 300 --matrix 300:
about 4 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from nio import AsyncClient, MessageDirection, RoomMessagesResponse

from bench.crash_store import (
    MATRIX_PASSWORD_ENV,
    PostgresStore,
    Row,
    SqliteStore,
    Store,
    wait_until,
)
from bench.memory import (
    STARTUP_LIMIT,
    TELEGRAM_RATE,
    BotProcess,
    add_telegram_chats,
    bot_environ,
    feed_server,
    open_direct_rooms,
    register_readers,
    write_config,
)
from bench.pg import new_database, temporary_postgres
from tests.fakes.telegram import TelegramApi, telegram_api
from tests.synapse import MatrixUser, Synapse, running_synapse

FINAL = ("sent", "failed", "unknown", "gone", "cancelled")
KILL_POLL = 0.01  # seconds between looks at the fan-out's progress before the kill


@dataclass
class RunRecord:
    """One kill and restart."""

    article: int
    rows: int
    kill_after: int  # final rows when the kill was ordered
    final_at_kill: int = 0
    in_flight: Counter[str] = field(default_factory=Counter)  # per platform, `sending` at kill
    states: dict[int, Row] = field(default_factory=dict)  # after the restart finished
    seconds: float = 0.0


def config_for(
    folder: Path,
    store: Store,
    *,
    article: int,
    api: TelegramApi,
    synapse: Synapse,
    bot: MatrixUser,
    feed_url: str,
    telegram_delivery: str,
) -> Path:
    """The bot's config for a run: a new feed (its first poll posts the newest entry)."""
    return write_config(
        folder / "config.toml",
        {
            **store.config(folder),
            "console": {"enabled": False},
            "telegram": {
                "enabled": True,
                "api_base": f"{api.url}/bot",
                "delivery": telegram_delivery,
            },
            "matrix": {
                "enabled": True,
                "homeserver": synapse.url,
                "user_id": bot.user_id,
                "exempt": True,
                **(
                    {"password_env": MATRIX_PASSWORD_ENV}
                    if isinstance(store, PostgresStore)
                    else {}
                ),
            },
        },
        [{"name": f"run{article}", "url": feed_url, "allow_private": True, "interval": 3600}],
    )


async def one_run(
    folder: Path,
    store: Store,
    config: Path,
    environ: dict[str, str],
    record: RunRecord,
    *,
    base: int,
    rng: random.Random,
) -> None:
    """Start, kill -9 part-way through the article's fan-out, restart, run to the end."""
    log_path = folder / "bot.log"
    start = time.monotonic()
    fanout_limit = STARTUP_LIMIT + record.rows / TELEGRAM_RATE * 2 + 60
    bot = await BotProcess.start(config, environ, log_path)
    try:

        async def queued() -> bool:
            return len(await store.rows(base)) >= record.rows

        await wait_until(queued, bot, STARTUP_LIMIT, f"before article {record.article} was queued")
        record.kill_after = rng.randint(1, record.rows - 1)

        async def progressed() -> bool:
            final = sum(r.state in FINAL for r in await store.rows(base))
            return final >= record.kill_after

        await wait_until(progressed, bot, fanout_limit, "before the kill", KILL_POLL)
        bot.kill9()
    finally:
        await bot.stop()  # reaps the killed process (or stops one that failed)
    rows = await store.rows(base)
    record.final_at_kill = sum(r.state in FINAL for r in rows)
    record.in_flight = Counter(r.platform for r in rows if r.state == "sending")

    bot = await BotProcess.start(config, environ, log_path)
    try:

        async def finished() -> bool:
            return all(r.state in FINAL for r in await store.rows(base))

        await wait_until(
            finished, bot, fanout_limit, "before the restarted bot finished the fan-out", 0.2
        )
    finally:
        code = await bot.stop()
    if code != 0:
        raise RuntimeError(f"the restarted bot exited with {code}:\n{bot.tail()}")
    record.states = {r.id: r for r in await store.rows(base)}
    record.seconds = time.monotonic() - start


def marker(article: int) -> str:
    """Text that the article's post carries, and no other run's."""
    return f"Article {article}:"


async def matrix_counts(
    synapse: Synapse, bot: MatrixUser, rooms: list[str], articles: list[int]
) -> dict[tuple[str, int], int]:
    """How many of the bot's events in each room carry each article."""
    client = AsyncClient(synapse.url, bot.user_id, bot.device_id)
    client.user_id, client.access_token = bot.user_id, bot.access_token
    counts: Counter[tuple[str, int]] = Counter()
    slots = asyncio.Semaphore(8)
    page_limit = len(articles) * 4 + 10  # pages of 100 events: far more than the runs post

    async def read(room_id: str) -> None:
        async with slots:
            token: str | None = None
            for _ in range(page_limit):
                resp = await client.room_messages(
                    room_id,
                    start=token,
                    direction=MessageDirection.back,
                    limit=100,
                    message_filter={"types": ["m.room.message"], "senders": [bot.user_id]},
                )
                if not isinstance(resp, RoomMessagesResponse):
                    raise RuntimeError(f"reading {room_id} failed: {resp}")
                for event in resp.chunk:
                    body = str(event.source.get("content", {}).get("body", ""))
                    for article in articles:
                        if marker(article) in body:
                            counts[(room_id, article)] += 1
                if not resp.chunk or not resp.end:
                    return
                token = resp.end
            raise RuntimeError(f"{room_id}: more history than the runs could have written")

    try:
        async with asyncio.timeout(60 + 2 * len(rooms)):
            await asyncio.gather(*(read(room) for room in rooms))
    finally:
        await client.close()
    return counts


def telegram_counts(api: TelegramApi, articles: list[int]) -> dict[tuple[str, int], int]:
    counts: Counter[tuple[str, int]] = Counter()
    for chat_id in api.log:
        for message in api.bot_messages(chat_id):
            for article in articles:
                if marker(article) in message.text:
                    counts[(str(chat_id), article)] += 1
    return counts


@dataclass
class Totals:
    lost: int = 0
    lost_telegram: int = 0
    lost_matrix: int = 0
    matrix_duplicates: int = 0
    telegram_duplicates: int = 0
    telegram_in_flight: int = 0
    matrix_in_flight: int = 0
    telegram_unknown: int = 0
    telegram_unknown_not_delivered: int = 0
    bot_says_sent_but_missing: int = 0


def tally(
    records: list[RunRecord], arrived: dict[tuple[str, int], int], telegram_resends: bool
) -> Totals:
    totals = Totals()
    for record in records:
        totals.telegram_in_flight += record.in_flight["telegram"]
        totals.matrix_in_flight += record.in_flight["matrix"]
        for row in record.states.values():
            n = arrived.get((row.chat_id, record.article), 0)
            duplicates = max(0, n - 1)
            if row.platform == "telegram":
                totals.telegram_duplicates += duplicates
                totals.telegram_unknown += row.state == "unknown"
            else:
                totals.matrix_duplicates += duplicates
            if n:
                continue
            totals.bot_says_sent_but_missing += row.state == "sent"
            if row.platform == "telegram" and row.state == "unknown" and not telegram_resends:
                totals.telegram_unknown_not_delivered += 1  # by policy: never sent twice
            elif row.platform == "telegram":
                totals.lost_telegram += 1
            else:
                totals.lost_matrix += 1
    totals.lost = totals.lost_telegram + totals.lost_matrix
    return totals


async def crash_runs(
    folder: Path, synapse: Synapse, args: argparse.Namespace, store: Store
) -> Totals:
    rng = random.Random(args.seed)
    bot_user = synapse.new_user("outreach")
    readers = await asyncio.to_thread(register_readers, synapse, args.matrix)
    rooms = await open_direct_rooms(synapse, bot_user, readers)
    article = [0]
    records: list[RunRecord] = []
    async with telegram_api() as api, feed_server(article) as feed_url:
        chats = add_telegram_chats(api, args.telegram)
        rows = await store.subscribe("telegram", chats)
        rows += await store.subscribe("matrix", rooms)
        environ = {**bot_environ(api, bot_user), MATRIX_PASSWORD_ENV: bot_user.password}
        for n in range(1, args.runs + 1):
            article[0] = n
            config = config_for(
                folder,
                store,
                article=n,
                api=api,
                synapse=synapse,
                bot=bot_user,
                feed_url=feed_url,
                telegram_delivery=args.telegram_delivery,
            )
            record = RunRecord(article=n, rows=rows, kill_after=0)
            base = await store.last_id()
            await one_run(folder, store, config, environ, record, base=base, rng=rng)
            records.append(record)
            print(
                f"run {n}: killed after {record.final_at_kill}/{rows} rows final, in flight "
                f"telegram={record.in_flight['telegram']} matrix={record.in_flight['matrix']}, "
                f"{record.seconds:.1f}s",
                file=sys.stderr,
                flush=True,
            )
        articles = [r.article for r in records]
        arrived = telegram_counts(api, articles)
    arrived.update(await matrix_counts(synapse, bot_user, rooms, articles))
    return tally(records, arrived, args.telegram_delivery == "at_least_once")


def store_for(folder: Path, args: argparse.Namespace, stack: contextlib.ExitStack) -> Store:
    if not args.postgres:
        return SqliteStore(folder / "bot.sqlite3")
    server = stack.enter_context(temporary_postgres())
    return PostgresStore(asyncio.run(new_database(server, "bench_crash")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--telegram", type=int, default=450, help="Telegram chats")
    parser.add_argument("--matrix", type=int, default=550, help="Matrix rooms")
    parser.add_argument("--seed", type=int, default=None, help="for the kill points")
    parser.add_argument(
        "--telegram-delivery", choices=("at_most_once", "at_least_once"), default="at_most_once"
    )
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1_000_000)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp:
        folder = Path(tmp)
        (folder / "synapse").mkdir()
        with contextlib.ExitStack() as stack:
            synapse = stack.enter_context(running_synapse(folder / "synapse"))
            t = asyncio.run(crash_runs(folder, synapse, args, store_for(folder, args, stack)))
    ratio = t.telegram_duplicates / max(1, t.telegram_in_flight)
    print(
        f"runs={args.runs} lost={t.lost} matrix_duplicates={t.matrix_duplicates} "
        f"telegram_duplicates={t.telegram_duplicates} "
        f"telegram_in_flight_at_kill={t.telegram_in_flight} target_lost=0 "
        f"target_matrix_duplicates=0 ratio={ratio:.2f} target=1.0 "
        f"telegram_unknown={t.telegram_unknown} "
        f"telegram_unknown_not_delivered={t.telegram_unknown_not_delivered} "
        f"matrix_in_flight_at_kill={t.matrix_in_flight} lost_telegram={t.lost_telegram} "
        f"lost_matrix={t.lost_matrix} sent_but_missing={t.bot_says_sent_but_missing} "
        f"telegram={args.telegram} matrix={args.matrix} "
        f"telegram_delivery={args.telegram_delivery} seed={args.seed} "
        f"storage={'postgres' if args.postgres else 'sqlite'} "
        f"seconds={time.monotonic() - started:.0f}"
    )


if __name__ == "__main__":
    main()
