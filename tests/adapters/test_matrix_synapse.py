"""The Matrix adapter against a real Synapse, with a second matrix-nio client as the person."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.adapters.matrix import MatrixAdapter
from bot.app import App, build_app
from bot.chat import ChatKind, ChatRef, Incoming, IncomingKind, Post, SentRef
from bot.config import Config, parse_config
from bot.feeds.article import Article
from bot.feeds.render import render_article
from bot.i18n import Lang
from bot.outbox import Item
from bot.storage import Database, open_database
from bot.storage import outbox as q
from bot.storage.state import DatabaseStateStore
from tests.synapse import Human, MatrixUser, Synapse

HTML = "org.matrix.custom.html"


def bot_config(
    tmp_path: Path,
    synapse: Synapse,
    bot: MatrixUser,
    *,
    channel: str | None = None,
    admins: tuple[str, ...] = (),
) -> Config:
    """The bot's config with Matrix enabled, one channel and the given admins."""
    data: dict[str, Any] = {
        "matrix": {"enabled": True, "homeserver": synapse.url, "user_id": bot.user_id},
        "storage": {"path": str(tmp_path / "bot.sqlite3")},
        "admins": {"matrix": list(admins)},
    }
    if channel is not None:
        data["channels"] = [{"name": "news", "platform": "matrix", "chat": channel}]
    return parse_config(data, base_dir=tmp_path, environ={"MATRIX_ACCESS_TOKEN": bot.access_token})


def make_adapter(config: Config, db: Database, bot: MatrixUser, **options: Any) -> MatrixAdapter:
    """The adapter the way the composition root would build it from the config."""
    m = config.matrix
    return MatrixAdapter(
        homeserver=m.homeserver,
        user_id=m.user_id,
        state=DatabaseStateStore(db, "matrix."),
        access_token=options.pop("access_token", bot.access_token),
        rooms=[c.chat for c in config.channels if c.platform == "matrix"],
        admins=list(config.admins.matrix),
        rate=m.rate,
        burst=m.burst,
        exempt=options.pop("exempt", m.exempt),
        **options,
    )


@asynccontextmanager
async def running_bot(config: Config, db: Database, adapter: MatrixAdapter) -> AsyncIterator[App]:
    """The whole bot, wired as `build_app` does, with the Matrix adapter; stopped on exit."""
    app = build_app(config, db, adapters={"matrix": adapter})
    task = asyncio.create_task(app.run())
    try:
        async with asyncio.timeout(15):
            while not adapter.synced.is_set():
                if task.done():
                    task.result()  # raises what stopped the bot
                await asyncio.sleep(0.02)
        yield app
    finally:
        app.request_stop()
        async with asyncio.timeout(15):
            await task


def notices(human: Human, room_id: str, bot: MatrixUser) -> list[dict[str, Any]]:
    return [
        e
        for e in human.messages(room_id, sender=bot.user_id)
        if e["content"].get("msgtype") == "m.notice"
    ]


def replies_to(human: Human, room_id: str, bot: MatrixUser, event_id: str) -> list[dict[str, Any]]:
    return [
        e
        for e in notices(human, room_id, bot)
        if e["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == event_id
    ]


def channel_target(chat_id: str) -> q.Target:
    return q.Target("matrix", chat_id, "channel", "channel:news")


async def eventually(read: Callable[[], Awaitable[object]], expected: object) -> None:
    """Poll `read()` (a database query: nothing to wait on) until it returns `expected`."""
    async with asyncio.timeout(15):
        while await read() != expected:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


class Collector:
    """Records what the adapter hands the bot, and lets a test wait for a kind of it."""

    def __init__(self) -> None:
        self.items: list[Incoming] = []
        self._changed = asyncio.Event()

    async def add(self, incoming: Incoming) -> None:
        self.items.append(incoming)
        self._changed.set()

    async def wait_for(self, match: Callable[[Incoming], bool], within: float = 10.0) -> Incoming:
        async with asyncio.timeout(within):
            while True:
                found = next((i for i in self.items if match(i)), None)
                if found is not None:
                    return found
                self._changed.clear()
                await self._changed.wait()


ARTICLE = Article(
    key="a1",
    url="https://example.org/posts/1?a=1&b=2",
    canonical_url="https://example.org/posts/1",
    title="Protest <script>alert(1)</script> & march",
    author="Ann",
    summary="Thousands marched.\n\nRead on <b>now</b>.",
)


async def test_article_post_arrives_with_intact_html_and_can_be_edited(
    synapse: Synapse, tmp_path: Path
) -> None:
    bot, person = synapse.new_user("bot"), synapse.new_user("ann")
    async with Human(synapse, person) as human:
        alias_local = f"news_{person.user_id[1:].split(':')[0]}"
        room_id = await human.create_room([bot.user_id], alias=alias_local)
        alias = f"#{alias_local}:{synapse.server_name}"
        config = bot_config(tmp_path, synapse, bot, channel=alias)
        async with open_database(tmp_path / "bot.sqlite3") as db:
            adapter = make_adapter(config, db, bot)
            async with running_bot(config, db, adapter) as app:
                post = render_article(ARTICLE, Lang.of("en"), feed_title="News")
                item = await app.services.outbox.enqueue_alone(
                    Item("article", post), [channel_target(alias)]
                )
                await human.wait_until(lambda: len(notices(human, room_id, bot)) == 1)
                sent = await db.fetch_one(
                    "SELECT message_id FROM deliveries WHERE item_id = ?", (item,)
                )
                assert sent is not None
                await adapter.edit(
                    SentRef(ChatRef("matrix", alias), sent[0]), Post.text("Fixed"), key="e1"
                )
                await human.wait_until(
                    lambda: len(human.messages(room_id, sender=bot.user_id)) == 2
                )

    content = notices(human, room_id, bot)[0]["content"]
    assert content["format"] == HTML
    html = content["formatted_body"]
    assert "<script>" not in html
    assert "Protest &lt;script&gt;alert(1)&lt;/script&gt; &amp; march" in html
    assert '<a href="https://example.org/posts/1?a=1&amp;b=2"><strong>Protest' in html
    assert "<p>Read on &lt;b&gt;now&lt;/b&gt;.</p>" in html
    assert content["body"].startswith("Protest <script>alert(1)</script> & march (https://")
    edit = human.messages(room_id, sender=bot.user_id)[1]["content"]
    assert edit["m.relates_to"] == {"rel_type": "m.replace", "event_id": sent[0]}
    assert edit["m.new_content"]["body"] == "Fixed"


async def test_help_command_is_answered_with_a_notice_reply(
    synapse: Synapse, tmp_path: Path
) -> None:
    bot, person = synapse.new_user("bot"), synapse.new_user("ann")
    async with Human(synapse, person) as human:
        room_id = await human.create_room([bot.user_id])
        config = bot_config(tmp_path, synapse, bot, channel=room_id)
        async with (
            open_database(tmp_path / "bot.sqlite3") as db,
            running_bot(config, db, make_adapter(config, db, bot)),
        ):
            asked = await human.send_text(room_id, "!help")
            await human.wait_until(lambda: bool(replies_to(human, room_id, bot, asked)))

    (reply,) = notices(human, room_id, bot)
    assert reply["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": asked}}
    assert "!help" in reply["content"]["body"]
    assert "<code>!help</code>" in reply["content"]["formatted_body"]


async def test_restart_answers_missed_command_once_and_old_ones_never_again(
    synapse: Synapse, tmp_path: Path
) -> None:
    bot, person = synapse.new_user("bot"), synapse.new_user("ann")
    async with Human(synapse, person) as human:
        room_id = await human.create_room([bot.user_id])
        config = bot_config(tmp_path, synapse, bot, channel=room_id)
        async with open_database(tmp_path / "bot.sqlite3") as db:
            async with running_bot(config, db, make_adapter(config, db, bot)):
                first = await human.send_text(room_id, "!help")
                await human.wait_until(lambda: bool(replies_to(human, room_id, bot, first)))
            # The bot is down: this command waits on the server.
            missed = await human.send_text(room_id, "!start")
            async with running_bot(config, db, make_adapter(config, db, bot)):
                await human.wait_until(lambda: bool(replies_to(human, room_id, bot, missed)))
                marker = await human.send_text(room_id, "!help")
                await human.wait_until(lambda: bool(replies_to(human, room_id, bot, marker)))

    assert len(replies_to(human, room_id, bot, first)) == 1
    assert len(replies_to(human, room_id, bot, missed)) == 1
    assert len(notices(human, room_id, bot)) == 3


async def test_a_crash_before_the_sync_token_was_stored_does_not_answer_twice(
    synapse: Synapse, tmp_path: Path
) -> None:
    bot, person = synapse.new_user("bot"), synapse.new_user("ann")
    async with Human(synapse, person) as human:
        room_id = await human.create_room([bot.user_id])
        config = bot_config(tmp_path, synapse, bot, channel=room_id)
        async with open_database(tmp_path / "bot.sqlite3") as db:
            state = DatabaseStateStore(db, "matrix.")
            async with running_bot(config, db, make_adapter(config, db, bot)):
                before = await state.get("sync_token")
                asked = await human.send_text(room_id, "!help")
                await human.wait_until(lambda: bool(replies_to(human, room_id, bot, asked)))
            assert before is not None
            await state.set("sync_token", before)  # as if the bot died right after answering
            async with running_bot(config, db, make_adapter(config, db, bot)):
                marker = await human.send_text(room_id, "!start")
                await human.wait_until(lambda: bool(replies_to(human, room_id, bot, marker)))

    assert len(replies_to(human, room_id, bot, asked)) == 1
    assert len(notices(human, room_id, bot)) == 2


async def test_post_resent_after_a_crash_appears_once(synapse: Synapse, tmp_path: Path) -> None:
    bot, person = synapse.new_user("bot"), synapse.new_user("ann")
    async with Human(synapse, person) as human:
        room_id = await human.create_room([bot.user_id])
        config = bot_config(tmp_path, synapse, bot, channel=room_id)
        async with open_database(tmp_path / "bot.sqlite3") as db:
            async with running_bot(config, db, make_adapter(config, db, bot)) as app:
                item = await app.services.outbox.enqueue_alone(
                    Item("article", Post.text("Only once")), [channel_target(room_id)]
                )
                await human.wait_until(lambda: len(notices(human, room_id, bot)) == 1)
            assert item is not None
            row = await db.fetch_one(
                "SELECT id, message_id, attempts FROM deliveries WHERE item_id = ?", (item,)
            )
            assert row is not None
            # A crash between the send and recording it leaves the row in `sending`.
            await db.execute("UPDATE deliveries SET state = 'sending' WHERE id = ?", (row["id"],))
            async with running_bot(config, db, make_adapter(config, db, bot)):
                await eventually(lambda: q.item_counts(db, item), {"sent": 1})
                again = await db.fetch_one(
                    "SELECT message_id, attempts FROM deliveries WHERE id = ?", (row["id"],)
                )
                marker = await human.send_text(room_id, "!help")
                await human.wait_until(lambda: bool(replies_to(human, room_id, bot, marker)))

    assert again is not None
    assert again["attempts"] == row["attempts"] + 1  # sent a second time...
    # ...and the server recognised the transaction id
    assert again["message_id"] == row["message_id"]
    assert [e["content"]["body"] for e in notices(human, room_id, bot)].count("Only once") == 1


async def test_default_message_limits_are_paced_and_nothing_is_lost(
    synapse: Synapse, tmp_path: Path
) -> None:
    bot = synapse.new_user("bot", exempt=False)  # Synapse's defaults: 0.2/s, burst 10
    person = synapse.new_user("ann")
    async with Human(synapse, person) as human:
        room_id = await human.create_room([bot.user_id])
        config = bot_config(tmp_path, synapse, bot, channel=room_id)
        async with open_database(tmp_path / "bot.sqlite3") as db:
            async with running_bot(config, db, make_adapter(config, db, bot)) as app:
                started = time.monotonic()
                for n in range(14):
                    await app.services.outbox.enqueue_alone(
                        Item("article", Post.text(f"Post {n}")), [channel_target(room_id)]
                    )
                await human.wait_until(lambda: len(notices(human, room_id, bot)) == 14, 45)
                elapsed = time.monotonic() - started
            states = await db.fetch_all("SELECT state, COUNT(*) FROM deliveries GROUP BY state")

    # Every post exactly once. (Their order may change: a post the server refused
    # with a 429 is retried after the posts that were not refused.)
    bodies = [e["content"]["body"] for e in notices(human, room_id, bot)]
    assert sorted(bodies) == sorted(f"Post {n}" for n in range(14))
    assert [tuple(s) for s in states] == [("sent", 14)]
    assert 15 < elapsed < 40  # four posts beyond the burst, one per five seconds


async def test_invites_accepted_from_admins_and_for_direct_chats_only(
    synapse: Synapse, tmp_path: Path
) -> None:
    bot, admin, stranger = (synapse.new_user(n) for n in ("bot", "admin", "eve"))
    seen = Collector()

    async with Human(synapse, admin) as boss, Human(synapse, stranger) as eve:
        config = bot_config(
            tmp_path, synapse, bot, channel="!none:localhost", admins=(admin.user_id,)
        )
        async with open_database(tmp_path / "bot.sqlite3") as db:
            adapter = make_adapter(config, db, bot)
            await adapter.start(seen.add)
            try:
                async with asyncio.timeout(10):
                    await adapter.synced.wait()
                team = await boss.create_room([bot.user_id], name="Team")
                spam = await eve.create_room([bot.user_id], name="Spam")
                direct = await eve.create_room([bot.user_id], name=None, is_direct=True)
                await seen.wait_for(lambda i: i.chat.id == team)
                await seen.wait_for(lambda i: i.chat.id == direct)
                said = await boss.send_text(team, "hello bot")
                await eve.send_text(spam, "!help")
                asked = await eve.send_text(direct, "!subscribe")
                await seen.wait_for(lambda i: i.message_id == said)
                await seen.wait_for(lambda i: i.message_id == asked)
                kicked = await boss.client.room_kick(team, bot.user_id)
                assert type(kicked).__name__ == "RoomKickResponse"
                await seen.wait_for(lambda i: i.kind is IncomingKind.BOT_REMOVED)
            finally:
                await adapter.stop()

    in_team = next(i for i in seen.items if i.message_id == said)
    assert (in_team.text, in_team.chat.kind, in_team.sender.id) == (
        "hello bot",
        ChatKind.GROUP,
        admin.user_id,
    )
    in_direct = next(i for i in seen.items if i.message_id == asked)
    assert (in_direct.text, in_direct.chat.kind) == ("!subscribe", ChatKind.PRIVATE)
    assert all(i.chat.id != spam for i in seen.items)
    removed = next(i for i in seen.items if i.kind is IncomingKind.BOT_REMOVED)
    assert removed.chat.id == team


async def test_admin_notices_share_one_direct_room_until_the_admin_leaves_it(
    synapse: Synapse, tmp_path: Path
) -> None:
    bot, admin = synapse.new_user("bot"), synapse.new_user("admin")
    seen = Collector()
    chat = ChatRef("matrix", admin.user_id, ChatKind.PRIVATE)
    async with Human(synapse, admin) as boss:
        config = bot_config(tmp_path, synapse, bot)
        async with open_database(tmp_path / "bot.sqlite3") as db:
            adapter = make_adapter(config, db, bot)
            await adapter.start(seen.add)
            try:
                await adapter.send(chat, Post.text("First notice"), key="notice-1")
                await boss.wait_until(lambda: bool(boss.invites))
                (room_id,) = boss.invites
                await boss.client.join(room_id)
                await adapter.send(chat, Post.text("Second notice"), key="notice-2")
                await boss.wait_until(lambda: len(boss.messages(room_id, sender=bot.user_id)) == 2)
                await boss.client.room_leave(room_id)
                # The bot leaves the empty room too, and says so under both of its names.
                await seen.wait_for(lambda i: i.chat.id == admin.user_id)
                await seen.wait_for(lambda i: i.chat.id == room_id)
                await adapter.send(chat, Post.text("Third notice"), key="notice-3")
                await boss.wait_until(lambda: len(boss.invites) == 2)
            finally:
                await adapter.stop()

    bodies = [e["content"]["body"] for e in boss.messages(room_id, sender=bot.user_id)]
    assert bodies == ["First notice", "Second notice"]
    assert {i.kind for i in seen.items} == {IncomingKind.BOT_REMOVED}


async def test_password_login_keeps_one_device_across_restarts(
    synapse: Synapse, tmp_path: Path
) -> None:
    bot = synapse.new_user("bot")
    config = bot_config(tmp_path, synapse, bot)
    async with open_database(tmp_path / "bot.sqlite3") as db:
        for _ in range(2):
            adapter = make_adapter(config, db, bot, access_token=None, password=bot.password)
            await adapter.start(None)
            await adapter.stop()
        state = DatabaseStateStore(db, "matrix.")
        device = await state.get("device_id")

    devices = synapse.user_devices(bot)
    assert len(devices) == 2  # the registration's, and the one the bot logged in once
    assert device in devices
    assert device != bot.device_id
