"""Telegram's paid broadcasts: the config, the pacing rate, and the Stars the reports give."""

from __future__ import annotations

from pathlib import Path

from bot.app import App, build_app
from bot.chat import ChatKind, ChatRef, Incoming, Sender
from bot.chat.plain import render_plain
from bot.config import parse_config
from bot.context import Reply
from bot.i18n import Lang
from bot.lifecycle import delivery_policy
from bot.outbox.paid import ArticleReports, PaidBroadcast, StarsEstimate, paid_line
from bot.platforms import telegram_limits
from bot.storage import Database
from bot.storage import feeds as fq
from bot.storage import outbox as q
from tests.fakes.recording import RecordingAdapter
from tests.helpers import FakeClock, make_config


def test_paid_broadcast_is_off_by_default_and_raises_only_the_global_rate(
    tmp_path: Path,
) -> None:
    free = make_config(tmp_path)
    assert (free.telegram.paid_broadcast, free.telegram.paid_rate) == (False, 1000.0)
    assert telegram_limits(free.telegram).global_rate == 30.0
    paid = make_config(tmp_path, telegram={"paid_broadcast": True, "paid_rate": 500})
    limits = telegram_limits(paid.telegram)
    assert limits.global_rate == 500.0
    free_limits = telegram_limits(free.telegram)
    assert (limits.private_interval, limits.per_chat_interval) == (
        free_limits.private_interval,
        free_limits.per_chat_interval,
    )
    # Enough sends in flight for the rate: each waits for its claim and its answer.
    assert delivery_policy("telegram", paid, free_limits).concurrency == 8
    assert delivery_policy("telegram", paid, limits).concurrency == 25


def test_a_planned_fanout_costs_its_messages_above_the_free_rate() -> None:
    assert PaidBroadcast(enabled=False).planned(10_000) is None
    paid = PaidBroadcast(enabled=True, rate=1000.0)
    assert paid.planned(0) is None
    # 10,000 chats at 1,000 a second: 10 s, of which 30 a second are free.
    assert paid.planned(10_000) == StarsEstimate(9_700)
    assert StarsEstimate(9_700).stars == 970.0
    assert paid.planned(25) == StarsEstimate(0)  # within one second's free 30


async def test_what_a_fanout_spent_comes_from_its_sent_rows(db: Database) -> None:
    targets = [q.Target("telegram", str(n), "private", "subscriber") for n in range(100)]
    targets.append(q.Target("matrix", "!room", "private", "subscriber"))
    async with db.transaction() as tx:
        item = await q.insert_item(tx, kind="article", ref=None, post_json='{"blocks":[]}',
                                   targets=targets, now=0.0)  # fmt: skip
    rows = await db.fetch_all("SELECT id FROM deliveries WHERE item_id = ? ORDER BY id", (item,))
    for n, row in enumerate(rows):
        await q.finish(db, row["id"], q.SENT, now=10.0 + 2.0 * n / 99, message_id="m")
    paid = PaidBroadcast(enabled=True)
    # 100 Telegram messages over 2 s: 60 of them free (the Matrix room costs nothing).
    assert await paid.spent(db, item) == StarsEstimate(40)
    assert await PaidBroadcast(enabled=False).spent(db, item) is None
    assert await paid.spent(db, item + 1) is None


async def _announce_to_telegram(tmp_path: Path, db: Database, *, paid: bool) -> tuple[str, str]:
    """/announce to 300 Telegram subscribers: the preview, and the final report."""
    data = {
        "console": {"enabled": True},
        "telegram": {"enabled": True, "paid_broadcast": paid},
        "admins": {"console": ["admin"]},
        "storage": {"path": str(tmp_path / "bot.sqlite3")},
    }
    config = parse_config(data, base_dir=tmp_path, environ={"TELEGRAM_BOT_TOKEN": "1:x"})
    telegram = RecordingAdapter(platform="telegram")
    clock = FakeClock()
    app = build_app(config, db, adapters={"console": RecordingAdapter(), "telegram": telegram},
                    clock=clock)  # fmt: skip
    for n in range(300):
        await fq.save_subscriber(db, "telegram", str(n), [], 0)
    admin = ChatRef("console", "admin", ChatKind.PRIVATE)

    async def say(text: str) -> str:
        reply: Reply = await app.router.handle(
            Incoming(admin, Sender("console", "admin"), text, "1")
        )
        posts = reply if isinstance(reply, tuple) else (reply,) if reply else ()
        return "\n\n".join(render_plain(p) for p in posts)

    preview = await say("/announce --to telegram Rally on Sunday")
    await say("/confirm 1")
    rows = await db.fetch_all("SELECT id FROM deliveries WHERE platform = 'telegram'")
    for n, row in enumerate(rows):  # 300 sent over 3 s: 90 free
        await q.finish(db, row["id"], q.SENT, now=clock.now + 3.0 * n / 299, message_id="m")
    await app.services.announcements.tick()
    return preview, _last_report(app)


def _last_report(app: App) -> str:
    console = app.adapters["console"]
    assert isinstance(console, RecordingAdapter)
    return console.edits[-1][2] if console.edits else console.sent[-1][2]


async def test_announce_says_paid_broadcast_and_reports_the_stars(
    tmp_path: Path, db: Database
) -> None:
    preview, report = await _announce_to_telegram(tmp_path, db, paid=True)
    assert "Telegram chats get it by paid broadcast: about 27 Stars" in preview
    assert "Announcement #1 finished" in report
    assert "Paid broadcast: 210 messages above the free rate, about 21 Stars." in report


async def test_without_paid_broadcast_nothing_is_said_about_stars(
    tmp_path: Path, db: Database
) -> None:
    preview, report = await _announce_to_telegram(tmp_path, db, paid=False)
    assert "paid broadcast" not in preview.lower()
    assert "Announcement #1 finished" in report
    assert "Paid broadcast" not in report


def test_the_stars_line_reads_in_the_admins_language() -> None:
    assert paid_line(StarsEstimate(1), Lang.of("en")) == (
        "Paid broadcast: 1 message above the free rate, about 0.1 Stars."
    )
    assert paid_line(StarsEstimate(9_700), Lang.of("ru")) == (
        "Платная рассылка: 9\xa0700 сообщений сверх бесплатного лимита, "
        "около 970 ⭐ (Telegram Stars)."
    )


async def test_an_articles_paid_broadcast_is_reported_once_when_it_has_gone_out(
    tmp_path: Path, db: Database
) -> None:
    data = {
        "console": {"enabled": True},
        "telegram": {"enabled": True, "paid_broadcast": True},
        "admins": {"console": ["admin"]},
        "storage": {"path": str(tmp_path / "bot.sqlite3")},
    }
    config = parse_config(data, base_dir=tmp_path, environ={"TELEGRAM_BOT_TOKEN": "1:x"})
    console = RecordingAdapter()
    app = build_app(config, db, adapters={"console": console, "telegram": RecordingAdapter(
        platform="telegram")})  # fmt: skip
    reports = ArticleReports(db, app.services.audience, app.services.announcements.paid)
    await reports.tick()  # starts after what is already queued
    record = fq.ArticleRecord(
        feed="org", key="k1", canonical_url="https://e.org/1", url="https://e.org/1",
        title="Court upholds fines", author="", summary="", image_url=None, categories=(),
        published_at=None, content_hash="h",
    )  # fmt: skip
    async with db.transaction() as tx:
        article_id = await fq.insert_article(tx, record, posted=True, now=0.0)
        for language in ("en", "ru"):  # an item per language
            targets = [
                q.Target("telegram", f"{language}{n}", "private", "subscriber") for n in range(150)
            ]
            await q.insert_item(tx, kind="article", ref=str(article_id), post_json="{}",
                                targets=targets, now=0.0)  # fmt: skip
    await reports.tick()
    rows = await db.fetch_all("SELECT id FROM deliveries WHERE platform = 'telegram' ORDER BY id")
    for n, row in enumerate(rows[:-1]):
        await q.finish(db, row["id"], q.SENT, now=100.0 + 3.0 * n / 298, message_id="m")
    await reports.tick()  # one send still under way: not yet
    await q.finish(db, rows[-1]["id"], q.SENT, now=103.0, message_id="m")
    await reports.tick()
    await reports.tick()  # told once
    await app.workers["console"].drain(horizon=0.0, limit=10.0)
    notices = [text for chat, _, text in console.sent if chat == "admin"]
    assert notices == [
        "Article “Court upholds fines” went to 300 Telegram chats by paid broadcast.\n\n"
        "Paid broadcast: 210 messages above the free rate, about 21 Stars."
    ]


async def test_articles_are_not_reported_without_paid_broadcast(
    tmp_path: Path, db: Database
) -> None:
    app = build_app(make_config(tmp_path), db, adapters={"console": RecordingAdapter()})
    reports = ArticleReports(db, app.services.audience, app.services.announcements.paid)
    await reports.tick()
    assert await db.fetch_all("SELECT key FROM bot_state WHERE key LIKE 'paid-broadcast:%'") == []
