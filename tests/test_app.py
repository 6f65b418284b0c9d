"""The composition root's own duties: chat removals and migrations, graceful runs."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from pathlib import Path

from bot.app import ConsoleIO, build_app
from bot.chat import ChatKind, ChatRef, Incoming, IncomingKind, Post, Sender
from bot.outbox import Item
from bot.storage import Database
from bot.storage import feeds as fq
from tests.fakes.recording import RecordingAdapter
from tests.helpers import make_config


async def test_removed_from_a_private_chat_deactivates_the_subscriber(
    tmp_path: Path, db: Database
) -> None:
    config = make_config(tmp_path)
    app = build_app(config, db, ConsoleIO(stdin=io.StringIO(""), stdout=io.StringIO()))
    await fq.save_subscriber(db, "console", "bob", [], 0)
    targets = await app.services.audience.subscriber_targets(set())
    await app.services.outbox.enqueue_alone(Item("article", Post.text("x")), targets)
    chat = ChatRef("console", "bob", ChatKind.PRIVATE)
    await app.dispatch(Incoming(chat, Sender("console", "bob"), kind=IncomingKind.BOT_REMOVED))
    assert await fq.get_subscriber(db, "console", "bob") is None
    row = await db.fetch_one("SELECT state FROM deliveries WHERE chat_id = 'bob'")
    assert row is not None
    assert row["state"] == "gone"


async def test_a_migrated_group_keeps_its_channel_subscription_and_pending_posts(
    tmp_path: Path, db: Database
) -> None:
    config = make_config(
        tmp_path, channels=[{"name": "grp", "platform": "console", "chat": "-100"}]
    )
    app = build_app(config, db, ConsoleIO(stdin=io.StringIO(""), stdout=io.StringIO()))
    targets = await app.services.audience.channel_targets(["grp"])
    await app.services.outbox.enqueue_alone(Item("article", Post.text("x")), targets)
    chat = ChatRef("console", "-100", ChatKind.GROUP)
    await app.dispatch(
        Incoming(chat, Sender("console", "x"), kind=IncomingKind.CHAT_MIGRATED, new_chat_id="-200")
    )
    row = await db.fetch_one("SELECT chat_id FROM deliveries")
    assert row is not None
    assert row["chat_id"] == "-200"
    assert [t.chat_id for t in await app.services.audience.channel_targets(["grp"])] == ["-200"]


async def test_console_session_through_the_app(tmp_path: Path, db: Database) -> None:
    out = io.StringIO()
    config = make_config(tmp_path)
    app = build_app(config, db, ConsoleIO(stdin=io.StringIO("/start\n/subscribe\n"), stdout=out))
    async with asyncio.timeout(20):
        await app.run()
    text = out.getvalue()
    assert "Send /help to see what I can do." in text
    assert "Subscribed: you will get every new article." in text
    assert await fq.get_subscriber(db, "console", "alice") is not None


async def test_what_a_service_enqueues_wakes_the_built_worker(tmp_path: Path, db: Database) -> None:
    """The signal the outbox sets after its commit is the one its platform's worker waits on:
    the worker, idle for a minute with nothing due, sends as soon as something is enqueued."""
    adapter = RecordingAdapter()
    app = build_app(make_config(tmp_path), db, adapters={"console": adapter})
    await fq.save_subscriber(db, "console", "bob", [], 0)
    stop = asyncio.Event()
    async with asyncio.timeout(10), asyncio.TaskGroup() as tg:
        tg.create_task(app.workers["console"].run(stop))
        await asyncio.sleep(0.2)  # the worker has looked, found nothing, and sleeps
        targets = await app.services.audience.subscriber_targets(set())
        await app.services.outbox.enqueue_alone(Item("article", Post.text("News")), targets)
        for _ in range(100):  # far less than the minute it would sleep if not woken
            if adapter.texts("bob"):
                break
            await asyncio.sleep(0.02)
        stop.set()
    assert adapter.texts("bob") == ["News"]


@dataclass
class NamedAdapter(RecordingAdapter):
    username: str = "OurBot"


async def test_the_router_knows_the_name_its_adapter_learned(tmp_path: Path, db: Database) -> None:
    app = build_app(make_config(tmp_path), db, adapters={"console": NamedAdapter()})
    group = ChatRef("console", "-1", ChatKind.GROUP)

    def in_group(text: str) -> Incoming:
        return Incoming(group, Sender("console", "bob"), text, "1")

    assert await app.router.handle(in_group("/help@OtherBot")) is None
    assert await app.router.handle(in_group("/help@ourbot")) is not None


async def test_end_of_console_input_stops_the_app(tmp_path: Path, db: Database) -> None:
    app = build_app(
        make_config(tmp_path), db, ConsoleIO(stdin=io.StringIO(""), stdout=io.StringIO())
    )
    async with asyncio.timeout(20):
        await app.run()
    assert app.stop.is_set()
