"""Channels that pause and come back (issue 14): the worker, /channels and /resume."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bot.app import build_app
from bot.chat import (
    CannotPostNow,
    ChatKind,
    ChatRef,
    Incoming,
    IncomingKind,
    Post,
    Sender,
    SentRef,
)
from bot.chat.plain import render_plain
from bot.context import Reply
from bot.lifecycle import App
from bot.outbox import Item
from bot.outbox.delivery import DeliveryPolicy, DeliveryWorker
from bot.storage import Database
from bot.storage import feeds as fq
from bot.storage import outbox as q
from tests.fakes.recording import RecordingAdapter
from tests.helpers import FakeClock, make_config

NO_RIGHTS = "Bad Request: not enough rights to send text messages to the chat"


def app_for(tmp_path: Path, db: Database, adapter: RecordingAdapter, clock: FakeClock) -> App:
    config = make_config(
        tmp_path,
        channels=[{"name": "news", "platform": "console", "chat": "news"}],
        bot={"paused_retention": "2h"},
    )
    return build_app(config, db, adapters={"console": adapter}, clock=clock)


def worker_for(app: App, adapter: RecordingAdapter, clock: FakeClock) -> DeliveryWorker:
    audience = app.services.audience
    return DeliveryWorker(
        app.db, adapter, DeliveryPolicy(resend_uncertain=True, paused_retention=7200.0),
        on_gone=audience.on_gone, on_failed=audience.on_failed, on_paused=audience.on_paused,
        on_moved=audience.on_moved, clock=clock,
    )  # fmt: skip


async def admin_says(app: App, text: str) -> str:
    chat = ChatRef("console", "admin", ChatKind.PRIVATE)
    reply: Reply = await app.router.handle(Incoming(chat, Sender("console", "admin"), text, "1"))
    assert isinstance(reply, Post)
    return render_plain(reply)


async def post_news(app: App, text: str) -> int:
    targets = await app.services.audience.channel_targets(["news"])
    item_id = await app.services.outbox.enqueue_alone(Item("article", Post.text(text)), targets)
    assert item_id is not None
    return item_id


async def admin_notices(db: Database) -> list[str]:
    rows = await db.fetch_all(
        "SELECT i.post AS post FROM deliveries d JOIN outbox_items i ON i.id = d.item_id "
        "WHERE d.target = 'admin' ORDER BY d.id"
    )
    return [str(r["post"]) for r in rows]


async def test_a_channel_without_rights_is_paused_kept_and_resumed_by_hand(
    tmp_path: Path, db: Database
) -> None:
    clock, adapter = FakeClock(), RecordingAdapter()
    app = app_for(tmp_path, db, adapter, clock)
    adapter.failures["news"] = [CannotPostNow(NO_RIGHTS)]
    item = await post_news(app, "Rally at noon")
    await worker_for(app, adapter, clock).drain(horizon=0.0, limit=5.0)

    assert await q.item_counts(db, item) == {"pending": 1}  # kept, not dropped
    assert await fq.gone_channels(db) == set()
    [notice] = await admin_notices(db)
    assert "is paused" in notice
    assert NO_RIGHTS in notice
    assert "/resume news" in notice
    listed = await admin_says(app, "/channels")
    assert "news (console): paused since" in listed
    assert "1 post waiting" in listed

    assert "resumed" in await admin_says(app, "/resume news")
    await worker_for(app, adapter, clock).drain(horizon=0.0, limit=5.0)
    assert await q.item_counts(db, item) == {"sent": 1}
    assert adapter.texts("news") == ["Rally at noon"]
    listed = await admin_says(app, "/channels")
    assert "news (console): posting; last post: 19" in listed
    assert "0 posts waiting" in listed
    [entry] = await app.services.audit.latest(1)
    assert (entry.action, entry.detail, entry.result) == ("resume", "news", "resumed")


async def test_posts_for_a_paused_channel_are_given_up_after_the_retention(
    tmp_path: Path, db: Database
) -> None:
    clock, adapter = FakeClock(), RecordingAdapter()
    app = app_for(tmp_path, db, adapter, clock)
    adapter.failures["news"] = [CannotPostNow(NO_RIGHTS), CannotPostNow(NO_RIGHTS)]
    item = await post_news(app, "Rally at noon")
    await worker_for(app, adapter, clock).drain(horizon=0.0, limit=5.0)
    clock.now += 7201.0  # past [bot] paused_retention; the pause's recheck is due
    await worker_for(app, adapter, clock).drain(horizon=0.0, limit=5.0)
    assert await q.item_counts(db, item) == {"failed": 1}
    assert adapter.texts("news") == []


async def test_adding_the_bot_back_resumes_a_gone_channel_and_tells_the_admins(
    tmp_path: Path, db: Database
) -> None:
    clock, adapter = FakeClock(), RecordingAdapter()
    app = app_for(tmp_path, db, adapter, clock)
    await fq.mark_channel_gone(db, "news", "bot was kicked", clock())
    assert await app.services.audience.channel_targets(["news"]) == []
    added = Incoming(
        ChatRef("console", "news", ChatKind.CHANNEL), Sender("console", "owner"),
        kind=IncomingKind.BOT_ADDED,
    )  # fmt: skip
    await app.dispatch(added)
    assert await fq.gone_channels(db) == set()
    assert any("is back" in notice for notice in await admin_notices(db))
    assert "was not paused" in await admin_says(app, "/resume news")
    assert "no channel named" in await admin_says(app, "/resume nope")


class MovingAdapter(RecordingAdapter):
    """A platform where the chat "-5" became "-1005" (a Telegram supergroup): a send
    follows the move and says where it landed."""

    async def send(
        self, chat: ChatRef, post: Post, *, key: str, reply_to: str | None = None
    ) -> SentRef:
        moved = dataclasses.replace(chat, id="-1005") if chat.id == "-5" else chat
        return await super().send(moved, post, key=key, reply_to=reply_to)


async def test_a_chat_that_moved_takes_its_rows_and_later_edits_along(
    tmp_path: Path, db: Database
) -> None:
    # Before: move_chat moved only pending rows and insert_edits copied the old id,
    # so an edit of an article already sent went to the old group, refused for good.
    clock, adapter = FakeClock(), MovingAdapter()
    app = app_for(tmp_path, db, adapter, clock)
    await fq.save_subscriber(db, "console", "-5", [], clock())
    target = q.Target("console", "-5", "group", "subscriber")
    item = await app.services.outbox.enqueue_alone(Item("article", Post.text("v1")), [target])
    assert item is not None
    await worker_for(app, adapter, clock).drain(horizon=0.0, limit=5.0)
    async with db.transaction() as tx:
        await app.services.outbox.enqueue_edit(tx, item, Post.text("v2"))
    await worker_for(app, adapter, clock).drain(horizon=0.0, limit=5.0)

    rows = await db.fetch_all("SELECT action, chat_id, state FROM deliveries ORDER BY id")
    assert [(r["action"], r["chat_id"], r["state"]) for r in rows] == [
        ("send", "-1005", "sent"),
        ("edit", "-1005", "sent"),
    ]
    assert adapter.edits == [("-1005", "m1", "v2")]
    assert await fq.get_subscriber(db, "console", "-1005") is not None
