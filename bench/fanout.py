"""One article to N Telegram private chats under a strict flood limit, against PTB's limiter.

    python -m bench.fanout [--chats 3000] [--rate 300] [--headroom 1.0]

The Bot API stand-in (tests/fakes/telegram_api.py) runs in its own process and
enforces a strict rolling window: at most R sends in any second overall and one
per second per chat; a send over either limit is answered 429 + retry_after.

The bot: the real delivery path. One outbox item with N subscriber rows
(`Outbox.enqueue_alone` of a rendered article with its "More like this" button),
the DeliveryWorker and its Pacer, the TelegramAdapter on the real
python-telegram-bot, wired and run by `bot.app.App` as in the adapter tests
(long polling with a 1 s timeout, so that it stops promptly). The adapter's
`global_rate` is `headroom * R`: what an operator sets for a bot limit of R.

The baseline, in the same run on a fresh stand-in: a python-telegram-bot
Application with `AIORateLimiter(overall_max_rate=R)` (its defaults otherwise:
no retries, PTB's default HTTP backend) sending the same message to the same N
chats with `bot.send_message`, gathered in batches of R. A send it gives up on
(a 429) is lost: `ptb_lost`.

Rates are the stand-in's accepted sends over the time from the first accepted
send to the last (stand-in clock); 429s are the stand-in's count. Also printed:
`bot_first_ms` (from the enqueue to the first accepted send) and the CPU time of
the sending process during each fan-out (`*_cpu_s`; the stand-in's is not in it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import logging
import multiprocessing
import tempfile
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter, ApplicationBuilder

from bot.adapters.telegram import TelegramAdapter
from bot.adapters.telegram_render import TELEGRAM_LIMITS, render
from bot.app import build_app
from bot.chat import Post
from bot.config import parse_config
from bot.feeds.article import Article
from bot.feeds.poller import with_related_button
from bot.feeds.render import render_article
from bot.i18n import Lang
from bot.outbox import Item
from bot.storage import open_database
from bot.storage import outbox as q
from tests.fakes.telegram_api import ShownMessage, telegram_api

FIRST_USER = 100_000
STARTUP_LIMIT = 30.0


@dataclasses.dataclass
class Outcome:
    sent: int
    rejected_429: int
    first: float  # time.monotonic() of the first accepted send (the stand-in's clock)
    last: float

    @property
    def rate(self) -> float:
        span = self.last - self.first
        return self.sent / span if span > 0 else 0.0


# --- the stand-in, in its own process --------------------------------------------------


def serve(chats: int, rate: int, limit: float, conn: Connection) -> None:
    """Run the stand-in; send (url, token); on a message back, send the outcome and exit."""
    # The stand-in is Telegram, not part of what is measured: keep the collector's full
    # passes over the heap inherited from the benchmark (tens of ms) out of its answers.
    gc.collect()
    gc.freeze()

    async def main() -> None:
        async with telegram_api() as api:
            for n in range(chats):
                api.add_chat(FIRST_USER + n)
            api.strict(overall_per_second=rate, per_chat_per_second=1)
            accepted: list[float] = []
            accept = api._accept

            def recording(chat: dict[str, Any], p: dict[str, Any], shown: ShownMessage) -> Any:
                result = accept(chat, p, shown)
                accepted.append(time.monotonic())  # after the rate check: accepted sends only
                return result

            api._accept = recording  # type: ignore[method-assign]
            conn.send((api.url, api.token))
            loop = asyncio.get_running_loop()
            asked = asyncio.Event()
            loop.add_reader(conn.fileno(), asked.set)
            try:
                async with asyncio.timeout(limit):
                    while not conn.poll():  # the reader fires until the message is read
                        asked.clear()
                        await asked.wait()
            finally:
                loop.remove_reader(conn.fileno())
            conn.recv()
            first, last = (accepted[0], accepted[-1]) if accepted else (0.0, 0.0)
            conn.send(Outcome(api.stats.sent, api.stats.rejected_429, first, last))

    asyncio.run(main())


@contextlib.contextmanager
def stand_in(chats: int, rate: int) -> Iterator[tuple[str, str, Callable[[], Outcome]]]:
    """The stand-in in another process: yields its URL, the token and `finish()`.

    `finish()` ends the run and returns what the stand-in saw. It runs in its own
    process so that its CPU is not the bot's: Telegram's servers are not in the
    bot's event loop either.
    """
    limit = chats / rate * 4 + 120
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=serve, args=(chats, rate, limit, child), daemon=True)
    process.start()
    try:
        if not parent.poll(STARTUP_LIMIT):
            raise RuntimeError("the stand-in did not start")
        url, token = parent.recv()

        def finish() -> Outcome:
            parent.send("done")
            if not parent.poll(STARTUP_LIMIT):
                raise RuntimeError("the stand-in did not answer")
            outcome: Outcome = parent.recv()
            return outcome

        yield url, token, finish
    finally:
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join(10)
        parent.close()
        child.close()


# --- the message -----------------------------------------------------------------------


def article_post() -> Post:
    article = Article(
        key="bench-1",
        url="https://example.org/2026/11/03/court-rulings",
        canonical_url="https://example.org/2026/11/03/court-rulings",
        title="Court upholds fines for 40 anti-war protesters; appeals to follow",
        author="Legal aid desk",
        summary="Lawyers will appeal every ruling. " * 6
        + "\n\nThe campaign covers the fines & the lawyers' fees.",
    )
    en = Lang.of("en")
    return with_related_button(render_article(article, en, feed_title="Example News"), 1, en)


# --- the bot ---------------------------------------------------------------------------


async def started(adapter: TelegramAdapter) -> None:
    """Wait until the adapter is connected (it knows its username then)."""
    async with asyncio.timeout(STARTUP_LIMIT):
        while True:
            with contextlib.suppress(RuntimeError):
                if adapter.username:
                    return
            await asyncio.sleep(0.01)


@dataclasses.dataclass
class Run:
    """The sender's side of a run."""

    delivered: int  # sends the sender counted as done
    failed: int  # sends the sender gave up on (429s with no retry)
    started: float  # time.monotonic() when the fan-out was asked for
    cpu: float  # CPU seconds of this process (every thread) during the fan-out


async def bot_fanout(url: str, token: str, chats: int, global_rate: float) -> Run:
    """Fan one article out to `chats` subscribers through the bot."""
    with tempfile.TemporaryDirectory() as tmp:
        data = {
            "console": {"enabled": False},
            "telegram": {"enabled": True, "api_base": f"{url}/bot"},
            "storage": {"path": str(Path(tmp) / "bot.sqlite3")},
        }
        config = parse_config(data, base_dir=Path(tmp), environ={"TELEGRAM_BOT_TOKEN": token})
        async with open_database(config.database_path()) as db:
            limits = dataclasses.replace(TELEGRAM_LIMITS, global_rate=global_rate)
            adapter = TelegramAdapter(
                token=token, api_base=f"{url}/bot", poll_timeout=1, limits=limits
            )
            app = build_app(config, db, adapters={"telegram": adapter})
            services = app.services
            task = asyncio.create_task(app.run())
            try:
                await started(adapter)
                targets = [
                    q.Target("telegram", str(FIRST_USER + n), "private", "subscriber")
                    for n in range(chats)
                ]
                cpu, started_at = time.process_time(), time.monotonic()
                item = await services.outbox.enqueue_alone(Item("article", article_post()), targets)
                assert item is not None
                counts: dict[str, int] = {}
                async with asyncio.timeout(chats / global_rate * 2 + 30):
                    while sum(counts.get(s, 0) for s in q.FINAL_STATES) < chats:
                        await asyncio.sleep(0.1)
                        counts = await q.item_counts(db, item)
                cpu = time.process_time() - cpu
                failed = sum(counts.values()) - counts.get(q.SENT, 0)
                return Run(counts.get(q.SENT, 0), failed, started_at, cpu)
            finally:
                app.request_stop()
                async with asyncio.timeout(30):
                    await task
                await app.close()


# --- the baseline ----------------------------------------------------------------------


async def ptb_fanout(url: str, token: str, chats: int, rate: int) -> Run:
    """The same message to the same chats with PTB's AIORateLimiter, gathered in batches."""
    [payload] = render(article_post(), TELEGRAM_LIMITS)
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.label, url=b.url, callback_data=b.callback_data) for b in row]
            for row in payload.keyboard
        ]
    )
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{url}/bot")
        .rate_limiter(AIORateLimiter(overall_max_rate=rate))
        .build()
    )
    failed = 0
    async with application:
        bot = application.bot
        cpu, started_at = time.process_time(), time.monotonic()
        ids = [FIRST_USER + n for n in range(chats)]
        for start in range(0, chats, rate):
            batch = ids[start : start + rate]
            async with asyncio.timeout(60):
                results = await asyncio.gather(
                    *(
                        bot.send_message(
                            chat_id,
                            payload.html,
                            parse_mode=ParseMode.HTML,
                            reply_markup=markup,
                            link_preview_options=LinkPreviewOptions(is_disabled=True),
                        )
                        for chat_id in batch
                    ),
                    return_exceptions=True,
                )
            for result in results:
                if isinstance(result, RetryAfter):
                    failed += 1
                elif isinstance(result, BaseException):
                    raise result
        cpu = time.process_time() - cpu
    return Run(chats - failed, failed, started_at, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chats", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--headroom", type=float, default=1.0)
    args = parser.parse_args()
    chats, rate = args.chats, args.rate
    # PTB's limiter logs every 429 it gives up on with a traceback; they are counted here.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    global_rate = rate * args.headroom

    with stand_in(chats, rate) as (url, token, finish):
        bot_run = asyncio.run(bot_fanout(url, token, chats, global_rate))
        bot = finish()
    with stand_in(chats, rate) as (url, token, finish):
        ptb_run = asyncio.run(ptb_fanout(url, token, chats, rate))
        ptb = finish()
    assert bot.sent == bot_run.delivered == chats, (bot, bot_run)
    assert ptb.sent == ptb_run.delivered, (ptb, ptb_run)
    print(
        f"chats={chats} rate={rate} bot_rate={bot.rate:.1f} bot_429={bot.rejected_429} "
        f"ptb_rate={ptb.rate:.1f} ptb_429={ptb.rejected_429} ratio={bot.rate / rate:.3f} "
        f"target=0.95 global_rate={global_rate:g} bot_s={bot.last - bot.first:.2f} "
        f"bot_first_ms={(bot.first - bot_run.started) * 1000:.0f} bot_cpu_s={bot_run.cpu:.2f} "
        f"ptb_sent={ptb.sent} ptb_lost={ptb_run.failed} ptb_s={ptb.last - ptb.first:.2f} "
        f"ptb_cpu_s={ptb_run.cpu:.2f}"
    )


if __name__ == "__main__":
    main()
