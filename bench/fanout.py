"""One article to N Telegram private chats under a strict flood limit, against PTB's limiter.

    python -m bench.fanout [--chats 3000] [--rate 300] [--headroom 1.0] [--commands 20] [--hog]

The Bot API stand-in (tests/fakes/telegram/) runs in its own process and
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

With `--commands N`, N people each send /help once about a third into the bot's
fan-out (injected by the stand-in): their replies share the one pacer, in its
priority lane. Printed: `replies` answered, `reply_p50_ms`/`reply_max_ms` from the
injection to the reply's acceptance, and `slots_per_reply`: the last reply's wait
beyond one reply's round trip with no fan-out running (`idle_reply_ms`, the baseline
of the same run), in pacing slots (1/R s) per reply. N replies asked at once need N
slots whatever else runs, so 1.0 means the fan-out delayed none of them. The
fan-out's rate and 429s count the replies too (the platform's limit holds for all).

Rates are the stand-in's accepted sends over the time from the first accepted
send to the last (stand-in clock); 429s are the stand-in's count. Also printed:
`bot_first_ms` (from the enqueue to the first accepted send) and the CPU time of
the sending process during each fan-out (`*_cpu_s`; the stand-in's is not in it),
and `cpu_ms_per_msg`: the bot's CPU time divided by the messages it delivered.

With `--hog`, a CPU-bound process runs on the machine's last core for the whole
run (started and stopped here): the bot then shares the machine as it would with
another busy service.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import logging
import multiprocessing
import os
import statistics
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
from tests.fakes.telegram import ShownMessage, telegram_api

FIRST_USER = 100_000
FIRST_PERSON = 900_000  # people who send commands during the fan-out
STARTUP_LIMIT = 30.0


@dataclasses.dataclass
class Outcome:
    sent: int
    rejected_429: int
    first: float  # time.monotonic() of the first accepted send (the stand-in's clock)
    last: float
    reply_ms: list[float] = dataclasses.field(default_factory=list)  # asked -> answered

    @property
    def rate(self) -> float:
        """Accepted calls a second: the fan-out's sends and the replies (the limit is shared)."""
        span = self.last - self.first
        return (self.sent + len(self.reply_ms)) / span if span > 0 else 0.0


# --- the stand-in, in its own process --------------------------------------------------


def serve(chats: int, rate: int, limit: float, conn: Connection, people: int = 0) -> None:
    """Run the stand-in; send (url, token). A message "ask" makes each of `people` send
    /help (answered "asked"); "done" sends the outcome back and ends it."""
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
            asked: dict[int, float] = {}
            replied: dict[int, float] = {}
            accept = api._accept

            def recording(chat: dict[str, Any], p: dict[str, Any], shown: ShownMessage) -> Any:
                result = accept(chat, p, shown)
                now = time.monotonic()  # after the rate check: accepted sends only
                accepted.append(now)
                if chat["id"] in asked:
                    replied.setdefault(chat["id"], now)
                return result

            api._accept = recording  # type: ignore[method-assign]
            conn.send((api.url, api.token))
            loop = asyncio.get_running_loop()
            readable = asyncio.Event()
            loop.add_reader(conn.fileno(), readable.set)
            try:
                async with asyncio.timeout(limit):
                    while True:
                        while not conn.poll():  # the reader fires until the message is read
                            readable.clear()
                            await readable.wait()
                        if conn.recv() == "done":
                            break
                        for person in range(FIRST_PERSON, FIRST_PERSON + people):
                            asked[person] = time.monotonic()
                            api.inject_text(person, "/help")
                        conn.send("asked")
            finally:
                loop.remove_reader(conn.fileno())
            first, last = (accepted[0], accepted[-1]) if accepted else (0.0, 0.0)
            waits = [(replied[p] - asked[p]) * 1000 for p in sorted(replied)]
            sent = api.stats.sent - len(replied)
            conn.send(Outcome(sent, api.stats.rejected_429, first, last, waits))

    asyncio.run(main())


@dataclasses.dataclass
class StandIn:
    """The stand-in process as the bot's side sees it."""

    url: str
    token: str
    finish: Callable[[], Outcome]  # ends the run; what the stand-in saw
    ask: Callable[[], None]  # the people send their commands now


@contextlib.contextmanager
def stand_in(chats: int, rate: int, people: int = 0) -> Iterator[StandIn]:
    """The stand-in in another process.

    It runs in its own process so that its CPU is not the bot's: Telegram's servers
    are not in the bot's event loop either.
    """
    limit = chats / rate * 4 + 120
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(
        target=serve, args=(chats, rate, limit, child, people), daemon=True
    )
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

        def ask() -> None:
            parent.send("ask")
            if not parent.poll(STARTUP_LIMIT) or parent.recv() != "asked":
                raise RuntimeError("the stand-in did not inject the commands")

        yield StandIn(url, token, finish, ask)
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


async def bot_fanout(
    url: str, token: str, chats: int, global_rate: float, ask: Callable[[], None] | None = None
) -> Run:
    """Fan one article out to `chats` subscribers through the bot; `ask` (the people's
    commands) is called once a third of it is sent."""
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
                        await asyncio.sleep(0.25)  # a look costs the bot CPU too
                        counts = await q.item_counts(db, item)
                        if ask is not None and counts.get(q.SENT, 0) >= chats // 3:
                            await asyncio.to_thread(ask)
                            ask = None
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


def _spin() -> None:
    """Burn one core until terminated."""
    while True:
        pass


@contextlib.contextmanager
def cpu_hog(enabled: bool) -> Iterator[None]:
    """A CPU-bound process pinned to the last core while the block runs (if `enabled`)."""
    if not enabled:
        yield
        return
    hog = multiprocessing.Process(target=_spin, daemon=True)
    hog.start()
    try:
        assert hog.pid is not None
        os.sched_setaffinity(hog.pid, {max(os.sched_getaffinity(0))})
        yield
    finally:
        hog.terminate()
        hog.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chats", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--headroom", type=float, default=1.0)
    parser.add_argument("--commands", type=int, default=0, help="people asking meanwhile")
    parser.add_argument("--hog", action="store_true", help="a CPU-bound process on another core")
    args = parser.parse_args()
    chats, rate = args.chats, args.rate
    # PTB's limiter logs every 429 it gives up on with a traceback; they are counted here.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    global_rate = rate * args.headroom

    people = args.commands
    with cpu_hog(args.hog):
        idle_ms = idle_reply_ms(rate) if people else 0.0
        with stand_in(chats, rate, people) as standin:
            ask = standin.ask if people else None
            bot_run = asyncio.run(bot_fanout(standin.url, standin.token, chats, global_rate, ask))
            bot = standin.finish()
        with stand_in(chats, rate) as standin:
            ptb_run = asyncio.run(ptb_fanout(standin.url, standin.token, chats, rate))
            ptb = standin.finish()
    assert bot.sent == bot_run.delivered == chats, (bot, bot_run)
    assert ptb.sent == ptb_run.delivered, (ptb, ptb_run)
    print(
        f"chats={chats} rate={rate} hog={int(args.hog)} bot_rate={bot.rate:.1f} "
        f"bot_429={bot.rejected_429} ptb_rate={ptb.rate:.1f} ptb_429={ptb.rejected_429} "
        f"ratio={bot.rate / rate:.3f} target=0.95 global_rate={global_rate:g} "
        f"bot_s={bot.last - bot.first:.2f} "
        f"bot_first_ms={(bot.first - bot_run.started) * 1000:.0f} bot_cpu_s={bot_run.cpu:.2f} "
        f"cpu_ms_per_msg={bot_run.cpu / max(1, bot_run.delivered) * 1000:.2f} "
        f"cpu_target_ms=1.0 ptb_sent={ptb.sent} ptb_lost={ptb_run.failed} "
        f"ptb_s={ptb.last - ptb.first:.2f} ptb_cpu_s={ptb_run.cpu:.2f} "
        f"ptb_cpu_ms_per_msg={ptb_run.cpu / max(1, ptb_run.delivered) * 1000:.2f}"
    )
    if people:
        waits = sorted(bot.reply_ms)
        slot_ms = 1000 / rate
        worst = waits[-1] if waits else float("nan")
        print(
            f"commands={people} replies={len(waits)} "
            f"reply_p50_ms={statistics.median(waits):.0f} reply_max_ms={worst:.0f} "
            f"idle_reply_ms={idle_ms:.0f} "
            f"slots_per_reply={(worst - idle_ms) / slot_ms / people:.2f} "
            f"target_slots=1 bot_429={bot.rejected_429}"
        )


def idle_reply_ms(rate: int) -> float:
    """The baseline: one /help answered with nothing else to send."""
    with stand_in(1, rate, 1) as standin:
        asyncio.run(bot_idle(standin))
        outcome = standin.finish()
    return statistics.median(outcome.reply_ms) if outcome.reply_ms else float("nan")


async def bot_idle(standin: StandIn) -> None:
    """The bot running with nothing to fan out while one person asks."""
    with tempfile.TemporaryDirectory() as tmp:
        data = {
            "console": {"enabled": False},
            "telegram": {"enabled": True, "api_base": f"{standin.url}/bot"},
            "storage": {"path": str(Path(tmp) / "bot.sqlite3")},
        }
        environ = {"TELEGRAM_BOT_TOKEN": standin.token}
        config = parse_config(data, base_dir=Path(tmp), environ=environ)
        async with open_database(config.database_path()) as db:
            adapter = TelegramAdapter(
                token=standin.token, api_base=f"{standin.url}/bot", poll_timeout=1
            )
            app = build_app(config, db, adapters={"telegram": adapter})
            task = asyncio.create_task(app.run())
            try:
                await started(adapter)
                await asyncio.to_thread(standin.ask)
                await asyncio.sleep(2.0)  # one answer, well within
            finally:
                app.request_stop()
                async with asyncio.timeout(30):
                    await task
                await app.close()


if __name__ == "__main__":
    main()
