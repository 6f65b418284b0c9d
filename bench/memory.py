"""Peak RSS of the bot process delivering one article to 10,000 subscribers.

    python -m bench.memory [--telegram 9000] [--matrix 1000]
    python -m bench.memory --subscribers 100000

With `--subscribers N` the bot runs with Telegram alone (the stand-in; no Synapse),
N private-chat subscribers and `[telegram] paid_broadcast = true` (1,000 messages a
second, so that 100,000 take minutes rather than an hour); the line then also gives
how long the poll took to queue the N deliveries (`enqueue_s`, from the bot's log)
and the target is 200 MB.

The bot runs as it does in production, `outreach-bot run -c <config>` in its own
process, with Telegram (against the Bot API stand-in, served from this process)
and Matrix (against a real Synapse started here) enabled and the console off.
Its database starts with the subscribers: private Telegram chats the stand-in
knows, and direct Matrix rooms the bot opened with registered users (as its
adapter opens them), each inviting one user. One feed, served from this process,
has one new article; the bot's first poll puts it in the outbox for every
subscriber and its workers deliver it, Telegram paced at the published 30
messages a second (so 9,000 chats take five minutes). When every delivery is
final, the bot's peak RSS is read from /proc/<pid>/status (VmHWM).

For context the line also gives the peak RSS of a bare `python -c "import bot.app"`,
the bot's peak before the fan-out started (connected, synced, article queued) and
its RSS when half the rows were sent. Figures are MiB (/proc's kB / 1024).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from aiohttp import web
from nio import AsyncClient, RoomCreateResponse, RoomPreset

from bot.storage import feeds as fq
from bot.storage import open_database
from tests.fakes.telegram import TelegramApi, telegram_api
from tests.synapse import MatrixUser, Synapse, running_synapse

FIRST_CHAT = 1_000_001  # Telegram user ids of the subscribers' private chats
TELEGRAM_RATE = 30.0  # the bot's published pacing (TELEGRAM_LIMITS.global_rate)
PAID_RATE = 1000.0  # with [telegram] paid_broadcast (its default paid_rate)
ENQUEUE_LOG = re.compile(r"deliveries queued in ([0-9.]+) s")
STARTUP_LIMIT = 180.0  # seconds for the bot to connect, sync and queue the article
STOP_LIMIT = 30.0
ROOM_CONCURRENCY = 8


# --- the world the bot runs in ---------------------------------------------------------


def feed_xml(article: int) -> bytes:
    """An RSS feed with one article (a new one for each `article` number)."""
    item = (
        f"<item><guid isPermaLink='false'>bench-article-{article}</guid>"
        f"<title>Article {article}: legal aid for detained protesters</title>"
        f"<link>https://example.org/articles/{article}</link>"
        "<pubDate>Tue, 03 Nov 2026 08:00:00 GMT</pubDate>"
        "<description><![CDATA[<p>What the fund paid for this month, and how to help. "
        + "More words about the campaign and the people it helps. " * 6
        + "</p>]]></description></item>"
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel>"
        f"<title>Bench news</title><link>https://example.org/</link>{item}</channel></rss>"
    ).encode()


@contextlib.asynccontextmanager
async def feed_server(article: list[int]) -> AsyncIterator[str]:
    """Serve the feed on 127.0.0.1; `article[0]` picks the article it carries."""

    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=feed_xml(article[0]), content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feed.xml", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/feed.xml"
    finally:
        await runner.cleanup()


def register_readers(synapse: Synapse, count: int) -> list[MatrixUser]:
    """Matrix users who will have a direct room with the bot."""
    return [synapse.register(f"reader{n}") for n in range(count)]


async def open_direct_rooms(
    synapse: Synapse, bot: MatrixUser, readers: list[MatrixUser], per_reader: int = 1
) -> list[str]:
    """Direct rooms from the bot to each reader, as the bot's adapter opens them."""
    client = AsyncClient(synapse.url, bot.user_id, bot.device_id)
    client.user_id, client.access_token = bot.user_id, bot.access_token
    slots = asyncio.Semaphore(ROOM_CONCURRENCY)
    rooms: list[str] = []

    async def one(reader: MatrixUser) -> None:
        async with slots:
            resp = await client.room_create(
                is_direct=True, invite=[reader.user_id], preset=RoomPreset.trusted_private_chat
            )
            if not isinstance(resp, RoomCreateResponse):
                raise RuntimeError(f"could not create a room: {resp}")
            rooms.append(str(resp.room_id))

    try:
        async with asyncio.timeout(30 + 2 * len(readers) * per_reader):
            await asyncio.gather(*(one(r) for r in readers for _ in range(per_reader)))
    finally:
        await client.close()
    return rooms


async def add_subscribers(db_path: Path, platform: str, chat_ids: Iterable[str]) -> int:
    """Subscribe chats to every article, in the bot's database (migrated if new)."""
    count = 0
    async with open_database(db_path) as db:
        for chat_id in chat_ids:
            await fq.save_subscriber(db, platform, chat_id, [], time.time())
            count += 1
    return count


async def add_many_subscribers(db_path: Path, platform: str, chat_ids: list[str]) -> int:
    """`add_subscribers` for a crowd: the rows as /subscribe writes them, in one transaction."""
    async with open_database(db_path):
        pass  # created and migrated
    now = time.time()
    with contextlib.closing(sqlite3.connect(db_path)) as db, db:
        db.executemany(
            "INSERT INTO subscribers (platform, chat_id, topics, active, created_at) "
            "VALUES (?, ?, '[]', 1, ?)",
            [(platform, chat_id, now + n * 1e-6) for n, chat_id in enumerate(chat_ids)],
        )
    return len(chat_ids)


def add_telegram_chats(api: TelegramApi, count: int) -> list[str]:
    """Private chats the stand-in knows (their users have messaged the bot)."""
    return [str(api.add_chat(FIRST_CHAT + n, "private")["id"]) for n in range(count)]


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a TOML basic string


def write_config(
    path: Path, sections: dict[str, dict[str, Any]], feeds: list[dict[str, Any]]
) -> Path:
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    for feed in feeds:
        lines.append("[[feeds]]")
        lines += [f"{key} = {toml_value(value)}" for key, value in feed.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def bot_config(
    folder: Path,
    *,
    telegram_url: str,
    synapse: Synapse | None,
    bot: MatrixUser | None,
    feed_url: str,
) -> Path:
    sections: dict[str, dict[str, Any]] = {
        "storage": {"path": str(folder / "bot.sqlite3")},
        "console": {"enabled": False},
        "telegram": {"enabled": True, "api_base": f"{telegram_url}/bot"},
    }
    if synapse is not None and bot is not None:
        sections["matrix"] = {
            "enabled": True,
            "homeserver": synapse.url,
            "user_id": bot.user_id,
            "exempt": True,  # the benchmark's Synapse exempts the bot from rate limits
        }
    else:
        sections["telegram"]["paid_broadcast"] = True
    return write_config(
        folder / "config.toml",
        sections,
        [{"name": "news", "url": feed_url, "allow_private": True, "interval": 60}],
    )


def bot_environ(api: TelegramApi, bot: MatrixUser | None) -> dict[str, str]:
    environ = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token}
    if bot is not None:
        environ["MATRIX_ACCESS_TOKEN"] = bot.access_token
    return environ


# --- the bot process -------------------------------------------------------------------


def outreach_bot() -> str:
    """The installed `outreach-bot` command next to this interpreter."""
    script = Path(sys.executable).parent / "outreach-bot"
    if not script.exists():
        raise RuntimeError(f"{script} not found: install the project (pip install -e .)")
    return str(script)


@dataclass
class BotProcess:
    """`outreach-bot run -c config` as a child process, its log in a file."""

    process: asyncio.subprocess.Process
    log_path: Path
    log: IO[bytes]

    @classmethod
    async def start(cls, config: Path, environ: dict[str, str], log_path: Path) -> BotProcess:
        log = log_path.open("ab")
        try:
            process = await asyncio.create_subprocess_exec(
                outreach_bot(),
                "run",
                "-c",
                str(config),
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        except BaseException:
            log.close()
            raise
        return cls(process, log_path, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.returncode is None

    def status(self, field: str) -> int:
        """A /proc/<pid>/status figure in kB (VmHWM: peak RSS, VmRSS: current RSS)."""
        return proc_status_kb(self.pid, field)

    def kill9(self) -> None:
        if self.running():
            self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited in time; the exit code."""
        try:
            if self.running():
                with contextlib.suppress(ProcessLookupError):
                    self.process.send_signal(signal.SIGTERM)
                try:
                    async with asyncio.timeout(STOP_LIMIT):
                        await self.process.wait()
                except TimeoutError:
                    self.kill9()
            async with asyncio.timeout(STOP_LIMIT):
                return await self.process.wait()
        finally:
            self.log.close()

    def tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def proc_status_kb(pid: int | str, field: str) -> int:
    with Path(f"/proc/{pid}/status").open(encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def delivery_states(db_path: Path) -> dict[str, int]:
    """How many delivery rows are in each state (read-only; the bot keeps writing)."""
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)) as db:
        rows = db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall()
    return {str(state): int(n) for state, n in rows}


async def wait_for(
    condition: Callable[[], bool], bot: BotProcess, limit: float, what: str, interval: float = 0.5
) -> None:
    """Poll `condition()` until it holds; fail if the bot exits or `limit` seconds pass."""
    deadline = time.monotonic() + limit
    while not condition():
        if not bot.running():
            raise RuntimeError(f"the bot exited ({bot.process.returncode}) {what}:\n{bot.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {limit:.0f}s {what}:\n{bot.tail()}")
        await asyncio.sleep(interval)


def bare_import_rss_mb() -> float:
    """Peak RSS of a Python that only imports the bot's composition root."""
    code = (
        "import bot.app\n"
        "for line in open('/proc/self/status'):\n"
        "    if line.startswith('VmHWM:'): print(line.split()[1])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return int(out.stdout.strip()) / 1024


# --- the run ---------------------------------------------------------------------------


@dataclass
class Figures:
    subscribers: int
    peak_mb: float
    before_fanout_mb: float
    half_fanout_mb: float
    fanout_s: float
    states: dict[str, int]
    telegram_sent: int
    enqueue_s: float | None = None


async def run(folder: Path, synapse: Synapse | None, telegram: int, matrix: int) -> Figures:
    bot_user = synapse.new_user("outreach") if synapse else None  # exempt from its limits
    rooms: list[str] = []
    if synapse is not None and bot_user is not None:
        readers = await asyncio.to_thread(register_readers, synapse, matrix)
        rooms = await open_direct_rooms(synapse, bot_user, readers)
    db_path = folder / "bot.sqlite3"
    async with telegram_api() as api, feed_server([1]) as feed_url:
        chats = add_telegram_chats(api, telegram)
        if synapse is None:
            total = await add_many_subscribers(db_path, "telegram", chats)
        else:
            total = await add_subscribers(db_path, "telegram", chats)
            total += await add_subscribers(db_path, "matrix", rooms)
        config = bot_config(
            folder, telegram_url=api.url, synapse=synapse, bot=bot_user, feed_url=feed_url
        )
        bot = await BotProcess.start(config, bot_environ(api, bot_user), folder / "bot.log")
        try:
            await wait_for(
                lambda: sum(delivery_states(db_path).values()) >= total,
                bot,
                STARTUP_LIMIT,
                "before the article was queued",
            )
            before = bot.status("VmHWM") / 1024
            start = time.monotonic()
            # A paid broadcast may be held back by the bot's CPU rather than the rate.
            rate = TELEGRAM_RATE if synapse is not None else PAID_RATE / 10
            limit = telegram / rate * 1.5 + 120

            half: list[float] = []

            def final() -> bool:
                states = delivery_states(db_path)
                if not half and states.get("sent", 0) >= total // 2:
                    half.append(bot.status("VmRSS") / 1024)  # growth with messages sent?
                return not states.get("pending") and not states.get("sending")

            await wait_for(final, bot, limit, "before every delivery was final", interval=1.0)
            fanout = time.monotonic() - start
            peak = bot.status("VmHWM") / 1024
        finally:
            code = await bot.stop()
            if code not in (0, -signal.SIGTERM):
                print(f"the bot exited with {code}:\n{bot.tail()}", file=sys.stderr)
        return Figures(
            total,
            peak,
            before,
            half[0] if half else 0.0,
            fanout,
            delivery_states(db_path),
            api.stats.sent,
            enqueue_seconds(bot.log_path),
        )


def enqueue_seconds(log_path: Path) -> float | None:
    """How long the poll took to queue its deliveries, as the bot logged it."""
    found = ENQUEUE_LOG.findall(log_path.read_text(encoding="utf-8", errors="replace"))
    return float(found[-1]) if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--telegram", type=int, default=9000, help="Telegram subscribers")
    parser.add_argument("--matrix", type=int, default=1000, help="Matrix subscribers")
    parser.add_argument(
        "--subscribers", type=int, help="Telegram subscribers alone, paid broadcast (no Synapse)"
    )
    args = parser.parse_args()
    telegram, matrix = (args.subscribers, 0) if args.subscribers else (args.telegram, args.matrix)
    target_mb = 200 if args.subscribers else 150
    bare = bare_import_rss_mb()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        folder = Path(tmp)
        if args.subscribers:
            figures = asyncio.run(run(folder, None, telegram, 0))
        else:
            (folder / "synapse").mkdir()
            with running_synapse(folder / "synapse") as synapse:
                figures = asyncio.run(run(folder, synapse, telegram, matrix))
    sent = figures.states.get("sent", 0)
    if sent != figures.subscribers or figures.telegram_sent != telegram:
        raise SystemExit(
            f"not everything was delivered: {figures.states}, "
            f"{figures.telegram_sent} Telegram messages accepted"
        )
    enqueue = "" if figures.enqueue_s is None else f" enqueue_s={figures.enqueue_s:.2f}"
    print(
        f"subscribers={figures.subscribers} peak_rss_mb={figures.peak_mb:.1f} "
        f"target_mb={target_mb} ratio={figures.peak_mb / target_mb:.2f} target=1.0 "
        f"telegram={telegram} matrix={matrix} before_fanout_rss_mb={figures.before_fanout_mb:.1f} "
        f"half_fanout_rss_mb={figures.half_fanout_mb:.1f} "
        f"bare_import_rss_mb={bare:.1f} fanout_s={figures.fanout_s:.0f}{enqueue}"
    )


if __name__ == "__main__":
    main()
