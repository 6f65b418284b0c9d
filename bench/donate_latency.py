"""Time from a user's /donate to the bot's reply reaching the Bot API, against a bare PTB echo bot.

    python -m bench.donate_latency [--n 500] [--warmup 20]

The Bot API stand-in (tests/fakes/telegram/) runs in its own process and
does the timing there: it injects a `/donate` from a user in a private chat,
waits for the bot's answer to arrive, and starts the next one right away; the
time is from the injection to the moment the stand-in accepts the reply. The
users rotate over a few ids; `[bot] commands_per_minute` is set to its maximum,
since the per-user limit is a policy, not a speed.

The bot is built like the app (`bot.app.build_app` from a config with one
static-provider campaign, so /donate answers from the config alone) and run
with `App.run()`: long polling with the adapter's default settings. Plain
`/donate` with one campaign answers with the campaign's amount menu.

The baseline, in the same run on the same stand-in: a bare python-telegram-bot
Application with one CommandHandler that echoes /donate back, polling with the
same timeout and allowed updates. `--warmup` rounds before each measurement are
not counted (first connections, first calls).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dtm
import gc
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

from bot.adapters.telegram import ALLOWED_UPDATES, TelegramAdapter
from bot.app import build_app
from bot.config import parse_config
from bot.storage import open_database
from tests.fakes.telegram import ShownMessage, telegram_api

FIRST_USER, USERS = 500_000, 10
POLL_TIMEOUT = 10.0  # the adapter's default long-polling timeout, used by both bots
ROUND_LIMIT = 10.0  # seconds one /donate may take before the run fails
STARTUP_LIMIT = 30.0

Measure = Callable[[], Awaitable[tuple[list[float], list[str]]]]


# --- the stand-in, in its own process, doing the timing ---------------------------------


def serve(rounds: int, warmup: int, conn: Connection) -> None:
    """Send (url, token); then, for each "go" received, time `warmup + rounds` /donates."""
    # The stand-in is Telegram, not part of what is measured: keep the collector's full
    # passes over the heap inherited from the benchmark (tens of ms) out of its answers.
    gc.collect()
    gc.freeze()

    async def main() -> None:
        async with telegram_api() as api:
            replied = asyncio.Event()
            asker = [0]  # the user whose answer is awaited
            answers: set[str] = set()  # what the bot answered (its first line)
            accept = api._accept

            def recording(chat: dict[str, Any], p: dict[str, Any], shown: ShownMessage) -> Any:
                result = accept(chat, p, shown)
                if chat["id"] == asker[0]:
                    answers.add(shown.text.split("\n", 1)[0])
                    replied.set()
                return result

            api._accept = recording  # type: ignore[method-assign]
            conn.send((api.url, api.token))
            loop = asyncio.get_running_loop()
            readable = asyncio.Event()
            loop.add_reader(conn.fileno(), readable.set)
            try:
                while True:
                    async with asyncio.timeout(STARTUP_LIMIT * 4):
                        while not conn.poll():  # the reader fires until the message is read
                            readable.clear()
                            await readable.wait()
                    if conn.recv() != "go":
                        return
                    times: list[float] = []
                    answers.clear()
                    for n in range(warmup + rounds):
                        replied.clear()
                        asker[0] = FIRST_USER + n % USERS
                        start = time.perf_counter()
                        api.inject_text(asker[0], "/donate")
                        async with asyncio.timeout(ROUND_LIMIT):
                            await replied.wait()
                        times.append(time.perf_counter() - start)
                    conn.send((times[warmup:], sorted(answers)))
            finally:
                loop.remove_reader(conn.fileno())

    asyncio.run(main())


@contextlib.contextmanager
def stand_in(rounds: int, warmup: int) -> Iterator[tuple[str, str, Measure]]:
    """The stand-in in another process: yields its URL, the token and `measure()`."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=serve, args=(rounds, warmup, child), daemon=True)
    process.start()
    try:
        if not parent.poll(STARTUP_LIMIT):
            raise RuntimeError("the stand-in did not start")
        url, token = parent.recv()

        async def measure() -> tuple[list[float], list[str]]:
            """Have the stand-in time the rounds: (seconds each, the distinct answers)."""
            loop = asyncio.get_running_loop()
            answered = asyncio.Event()
            parent.send("go")
            loop.add_reader(parent.fileno(), answered.set)
            try:
                async with asyncio.timeout((warmup + rounds) * ROUND_LIMIT):
                    while not parent.poll():
                        answered.clear()
                        await answered.wait()
            finally:
                loop.remove_reader(parent.fileno())
            times, answers = parent.recv()
            return times, answers

        yield url, token, measure
        parent.send("stop")
    finally:
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join(10)
        parent.close()
        child.close()


# --- the bot -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_bot(url: str, token: str) -> AsyncIterator[None]:
    """The whole bot from a config, polling the stand-in, for the duration of the block."""
    with tempfile.TemporaryDirectory() as tmp:
        data: dict[str, Any] = {
            "bot": {"commands_per_minute": 1000},
            "telegram": {"enabled": True, "api_base": f"{url}/bot"},
            "storage": {"path": str(Path(tmp) / "bot.sqlite3")},
            "web": {"listen": "127.0.0.1:0"},
            "campaigns": [
                {
                    "id": "russia",
                    "title": "Russian anti-war protesters",
                    "earmark": "for Russian anti-war protesters",
                    "description": "Legal aid and fines for people detained at anti-war protests.",
                    "goal": 20000,
                    "currency": "USD",
                    "amounts": [10, 25, 50, 100],
                    "highlight": 50,
                    "provider": "static",
                }
            ],
            "donations": {
                "static_url": "https://donate.example.org/give?campaign={campaign}"
                "&amount={amount}&currency={currency}&note={earmark}"
            },
        }
        environ = {"TELEGRAM_BOT_TOKEN": token}
        config = parse_config(data, base_dir=Path(tmp), environ=environ)
        async with open_database(config.database_path()) as db:
            app = build_app(config, db, environ=environ)
            adapter = app.adapters["telegram"]
            assert isinstance(adapter, TelegramAdapter)
            assert adapter.poll_timeout == POLL_TIMEOUT
            task = asyncio.create_task(app.run())
            try:
                async with asyncio.timeout(STARTUP_LIMIT):
                    while True:
                        with contextlib.suppress(RuntimeError):
                            if adapter.username:
                                break
                        await asyncio.sleep(0.01)
                yield
            finally:
                app.request_stop()
                async with asyncio.timeout(STARTUP_LIMIT):
                    await task
                await app.close()


async def bot_latency(url: str, token: str, measure: Measure) -> list[float]:
    async with running_bot(url, token):
        times, answers = await measure()
    # Every answer is the campaign's amount menu (not, say, "too many commands").
    assert answers == ["Russian anti-war protesters"], answers
    return times


# --- the baseline ------------------------------------------------------------------------


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.message is not None and update.message.text is not None:
        await update.message.reply_text(update.message.text)


async def echo_latency(url: str, token: str, measure: Measure) -> list[float]:
    application: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token(token).base_url(f"{url}/bot").build()
    )
    application.add_handler(CommandHandler("donate", echo))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(
            timeout=dtm.timedelta(seconds=POLL_TIMEOUT), allowed_updates=ALLOWED_UPDATES
        )
        try:
            times, answers = await measure()
        finally:
            await application.updater.stop()
            await application.stop()
    assert answers == ["/donate"], answers
    return times


def percentile(times: list[float], p: float) -> float:
    """The p-th percentile in milliseconds (nearest rank)."""
    ordered = sorted(times)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))
    return ordered[rank] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    with stand_in(args.n, args.warmup) as (url, token, measure):
        bot = asyncio.run(bot_latency(url, token, measure))
        baseline = asyncio.run(echo_latency(url, token, measure))
    bot_p50, echo_p50 = percentile(bot, 50), percentile(baseline, 50)
    print(
        f"n={len(bot)} bot_p50_ms={bot_p50:.2f} bot_p95_ms={percentile(bot, 95):.2f} "
        f"echo_p50_ms={echo_p50:.2f} echo_p95_ms={percentile(baseline, 95):.2f} "
        f"ratio={bot_p50 / echo_p50:.2f} target=1.2 "
        f"bot_mean_ms={statistics.fmean(bot) * 1000:.2f} "
        f"echo_mean_ms={statistics.fmean(baseline) * 1000:.2f} "
        f"bot_max_ms={max(bot) * 1000:.1f} echo_max_ms={max(baseline) * 1000:.1f}"
    )


if __name__ == "__main__":
    main()
