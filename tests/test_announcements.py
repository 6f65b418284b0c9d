"""Admin announcements, the audit log and subscriber data rights."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.admin_cli import announce_options
from bot.announcements.markup import parse_markup
from bot.announcements.targets import AnnounceOptions, OptionError, parse_options
from bot.app import build_app
from bot.chat import BulletList, ChatKind, ChatRef, Incoming, Paragraph, Sender, Span
from bot.chat.plain import render_plain
from bot.cli import build_parser
from bot.context import Reply, Services
from bot.outbox.delivery import DeliveryWorker
from bot.router import CommandRouter
from bot.storage import Database
from bot.storage import feeds as fq
from bot.storage import outbox as q
from tests.fakes.recording import RecordingAdapter
from tests.helpers import FakeClock, make_config

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_markup() -> None:
    post = parse_markup(
        "*Big* news for _everyone_: [read it](https://e.org/x)\n\n- one\n- two\nbye"
    )
    first, second, third = post.blocks
    assert isinstance(first, Paragraph)
    assert first.spans == (
        Span("Big", bold=True),
        Span(" news for "),
        Span("everyone", italic=True),
        Span(": "),
        Span("read it", link="https://e.org/x"),
    )
    assert isinstance(second, BulletList)
    assert second.items == ((Span("one"),), (Span("two"),))
    assert third == Paragraph((Span("bye"),))


def test_markup_leaves_lone_symbols_and_snake_case_alone() -> None:
    post = parse_markup("2 * 3 = 6, snake_case_name and [no link](javascript:x)")
    assert render_plain(post) == "2 * 3 = 6, snake_case_name and [no link](javascript:x)"


def test_options() -> None:
    options = parse_options(
        "--to news --to topic:russia,telegram --at 2026-12-01T18:00 --pin Hi", NOW
    )
    assert options.selectors == ("news", "topic:russia", "telegram")
    assert options.send_at == datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
    assert options.pin
    assert options.text == "Hi"


def test_the_command_line_and_the_chat_make_the_same_options() -> None:
    argv = ["announce", "-c", "bot.toml", "--to", "news", "--to", "topic:russia,telegram"]
    argv += ["--at", "2026-12-01T18:00", "--pin", "--text", "  Hi  "]
    from_cli = announce_options(build_parser().parse_args(argv), NOW)
    from_chat = parse_options(
        "--to news --to topic:russia,telegram --at 2026-12-01T18:00 --pin Hi", NOW
    )
    assert (
        from_cli
        == from_chat
        == AnnounceOptions(
            ("news", "topic:russia", "telegram"),
            datetime(2026, 12, 1, 18, 0, tzinfo=UTC),
            True,
            "Hi",
        )
    )


def test_the_command_line_checks_its_options_as_the_chat_does() -> None:
    args = build_parser().parse_args(
        ["announce", "-c", "b.toml", "--at", "2020-01-01", "--text", "x"]
    )
    with pytest.raises(OptionError, match="that time has passed"):
        announce_options(args, NOW)
    with pytest.raises(OptionError, match="the announcement text is missing"):
        AnnounceOptions.of("  ", to=["news"], now=NOW)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("--at yesterday Hi", "not an ISO time"),
        ("--at 2020-01-01T00:00 Hi", "that time has passed"),
        ("--loud Hi", "unknown option --loud"),
        ("--to news", "the announcement text is missing"),
    ],
)
def test_option_errors(text: str, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        parse_options(text, NOW)


@dataclass
class Bot:
    services: Services
    router: CommandRouter
    adapter: RecordingAdapter
    worker: DeliveryWorker
    clock: FakeClock

    async def say(self, text: str, user: str = "admin") -> str:
        chat = ChatRef("console", user, ChatKind.PRIVATE)
        reply: Reply = await self.router.handle(Incoming(chat, Sender("console", user), text, "1"))
        posts = reply if isinstance(reply, tuple) else (reply,) if reply else ()
        return "\n\n".join(render_plain(p) for p in posts)

    async def deliver(self) -> None:
        await self.worker.drain(horizon=0.0, limit=10.0)


def make_bot(tmp_path: Path, db: Database, clock: FakeClock | None = None) -> Bot:
    config = make_config(
        tmp_path,
        channels=[
            {"name": "news", "platform": "console", "chat": "news"},
            {"name": "other", "platform": "console", "chat": "other"},
        ],
        feeds=[{"name": "org", "url": "https://e.org/f", "topics": {"Russia": "russia"}}],
    )
    clock = clock or FakeClock(NOW.timestamp())
    adapter = RecordingAdapter()
    app = build_app(config, db, adapters={"console": adapter}, clock=clock)
    return Bot(app.services, app.router, adapter, app.workers["console"], clock)


async def subscribe(db: Database, *users: tuple[str, list[str]]) -> None:
    for user, topics in users:
        await fq.save_subscriber(db, "console", user, topics, 0)


async def test_preview_then_confirm_reaches_exactly_the_chosen_targets(
    tmp_path: Path, db: Database
) -> None:
    bot = make_bot(tmp_path, db)
    await subscribe(db, ("ru", ["russia"]), ("all", []), ("other", ["x"]))
    preview = await bot.say("/announce --to news --to topic:russia *Rally* on Sunday")
    assert preview.startswith("Rally on Sunday")
    assert "Announcement #1 (preview above) goes to 1 channel and 2 subscribers" in preview
    assert "Confirm: send /confirm 1" in preview
    await bot.deliver()
    assert bot.adapter.sent == []  # nothing before the confirm

    assert await bot.say("/confirm 1") == "Announcement #1 is going out to 3 chats."
    await bot.deliver()
    received = sorted(chat for chat, _, text in bot.adapter.sent if text == "Rally on Sunday")
    assert received == ["all", "news", "ru"]
    await bot.services.announcements.tick()
    report = bot.adapter.edits[-1][2]
    assert "Announcement #1 finished" in report
    assert "3 sent · 0 failed · 0 deactivated · 0 unknown" in report
    assert await bot.say("/confirm 1") == "Announcement #1 is not waiting for a confirmation."


async def test_cancel_before_confirm_sends_nothing(tmp_path: Path, db: Database) -> None:
    bot = make_bot(tmp_path, db)
    await bot.say("/announce Hello")
    assert await bot.say("/cancel 1") == "Announcement #1 is cancelled; nothing was sent."
    assert "not waiting" in await bot.say("/confirm 1")
    await bot.deliver()
    assert bot.adapter.sent == []


async def test_non_admin_is_refused_and_audited(tmp_path: Path, db: Database) -> None:
    bot = make_bot(tmp_path, db)
    assert await bot.say("/announce Hi", user="mallory") == (
        "Sorry, that command is not available to you."
    )
    log = await bot.say("/audit")
    assert "console:mallory announce admin command → refused: not an admin" in log


async def test_unknown_target_is_explained(tmp_path: Path, db: Database) -> None:
    bot = make_bot(tmp_path, db)
    reply = await bot.say("/announce --to nowhere Hi")
    assert reply.startswith("--to nowhere: not a target.")
    assert "news, other" in reply


async def test_scheduled_announcement_survives_a_restart_and_goes_out_once(
    tmp_path: Path, db: Database
) -> None:
    bot = make_bot(tmp_path, db)
    reply = await bot.say("/announce --at 2026-11-27T13:00 Later")
    assert "at 2026-11-27 13:00 UTC" in reply
    assert await bot.say("/confirm 1") == ("Announcement #1 is scheduled for 2026-11-27 13:00 UTC.")
    await bot.services.announcements.tick()
    assert await db.fetch_all("SELECT id FROM outbox_items") == []

    clock = FakeClock(NOW.timestamp() + 3601)
    restarted = make_bot(tmp_path, db, clock)  # same database, new process
    await restarted.services.announcements.tick()
    await restarted.services.announcements.tick()
    await restarted.deliver()
    assert [chat for chat, _, _ in restarted.adapter.sent if chat != "admin"] == ["news", "other"]
    assert len(await db.fetch_all("SELECT id FROM outbox_items")) == 1
    # The progress report goes to the admin who confirmed.
    assert any(chat == "admin" and "Announcement #1" in t for chat, _, t in restarted.adapter.sent)


async def test_cancel_midway_stops_delivery(tmp_path: Path, db: Database) -> None:
    bot = make_bot(tmp_path, db)
    await subscribe(db, *((f"u{i}", []) for i in range(8)))
    await bot.say("/announce --to subscribers Hi")
    await bot.say("/confirm 1")
    rows = await db.fetch_all("SELECT id FROM deliveries WHERE item_id = 1 ORDER BY id")
    for (row_id,) in rows[:3]:
        await q.finish(db, row_id, q.SENT, now=0, message_id="m")
    assert await bot.say("/cancel_announcement 1") == (
        "Announcement #1: 5 unsent messages cancelled."
    )
    await bot.deliver()
    assert [c for c, _, t in bot.adapter.sent if t == "Hi"] == []
    await bot.services.announcements.tick()
    assert "3 sent · 0 failed · 0 deactivated · 0 unknown · 5 cancelled" in bot.adapter.edits[-1][2]


async def test_progress_edits_are_throttled_and_final_counts_right(
    tmp_path: Path, db: Database
) -> None:
    bot = make_bot(tmp_path, db)
    await subscribe(db, *((f"u{i}", []) for i in range(20)))
    await bot.say("/announce --to subscribers Hi")
    await bot.say("/confirm 1")
    rows = [r["id"] for r in await db.fetch_all("SELECT id FROM deliveries WHERE item_id = 1")]
    for n, row_id in enumerate(rows):
        state = q.FAILED if n == 0 else q.SENT
        await q.finish(db, row_id, state, now=0, message_id="m")
        bot.clock.now += 1.0  # one a second: at most one edit every 3 s
        await bot.services.announcements.tick()
    progress = [t for _, _, t in bot.adapter.edits]
    assert 5 <= len(progress) <= 8
    assert "delivering ▓░░░░░░░░░ 3 / 20" in progress[0]
    assert "1 failed" in progress[0]
    assert "Announcement #1 finished" in progress[-1]
    assert "19 sent · 1 failed · 0 deactivated · 0 unknown" in progress[-1]
    await bot.services.announcements.tick()
    assert len(bot.adapter.edits) == len(progress)  # finished: no more edits


async def test_forgetme_leaves_no_row_about_the_user(tmp_path: Path, db: Database) -> None:
    bot = make_bot(tmp_path, db)
    assert "Subscribed" in await bot.say("/subscribe russia", user="zoe")
    await bot.say("/announce --to subscribers Hi")
    await bot.say("/confirm 1")
    await bot.deliver()
    await bot.say("/announce sneaky", user="zoe")  # refused, audited
    data = await bot.say("/mydata", user="zoe")
    assert "A subscription of chat zoe to articles on russia." in data
    assert "Delivery records of messages to you: 1 sent." in data
    assert "1 audit log entry naming you as the actor." in data

    assert "Done" in await bot.say("/forgetme", user="zoe")
    tables = [
        r["name"] for r in await db.fetch_all("SELECT name FROM sqlite_master WHERE type='table'")
    ]
    for table in tables:
        if table.startswith("articles_fts"):
            continue
        for row in await db.fetch_all(f"SELECT * FROM {table}"):
            assert "zoe" not in " ".join(str(v) for v in row), (table, tuple(row))
    assert (await bot.say("/mydata", user="zoe")).startswith("I keep nothing about you.")


async def test_numbers_beyond_what_is_stored_are_just_unknown(tmp_path: Path, db: Database) -> None:
    bot = make_bot(tmp_path, db)
    assert (
        await bot.say("/confirm 99999999999999999999")
        == "Usage: /confirm N (the number of the announcement)"
    )
    assert "not pending" in await bot.say("/cancel_announcement 9223372036854775807")
