"""The Telegram adapter through the real python-telegram-bot and the Bot API stand-in.

The bot is wired the way `bot.app` wires it (services, router, handlers,
delivery workers) with the Telegram adapter pointed at the stand-in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.adapters.console import ConsoleAdapter
from bot.adapters.telegram import EXPIRED_BUTTON, TELEGRAM_LIMITS, TelegramAdapter
from bot.adapters.telegram_render import callback_data_for, utf16_len
from bot.app import App, build_app
from bot.chat import (
    Button,
    CannotPostNow,
    ChatGone,
    ChatKind,
    ChatRef,
    CommandMenu,
    Incoming,
    IncomingKind,
    MaybeDelivered,
    PlatformLimits,
    Post,
    PublishesCommands,
    Rejected,
    Transient,
    bold,
    bullets,
    link,
    para,
)
from bot.config import parse_config
from bot.outbox import Item
from bot.storage import Database, open_database
from bot.storage import feeds as fq
from bot.storage import outbox as q
from tests.fakes.telegram import TelegramApi, parse_html, telegram_api

USER, ADMIN, OTHER = 1001, 2002, 3003
CHANNEL = -1001234
NEWS = q.Target("telegram", str(CHANNEL), "channel", "channel:news")


@pytest.fixture
async def api() -> AsyncIterator[TelegramApi]:
    async with telegram_api() as server:
        server.add_chat(CHANNEL, "channel", title="News")
        yield server


def adapter_for(api: TelegramApi, **options: Any) -> TelegramAdapter:
    return TelegramAdapter(token=api.token, api_base=f"{api.url}/bot", poll_timeout=1, **options)


@dataclasses.dataclass
class Running:
    app: App
    adapter: TelegramAdapter
    db: Database
    incoming: list[Incoming]
    items: list[int]

    async def post(self, post: Post, targets: list[q.Target]) -> int:
        item_id = await self.app.services.outbox.enqueue_alone(Item("article", post), targets)
        assert item_id is not None
        return item_id

    async def settled(self, item_id: int, total: int, limit: float = 10.0) -> dict[str, int]:
        """The item's delivery states once all `total` deliveries have ended."""

        async def done() -> bool:
            counts = await q.item_counts(self.db, item_id)
            return sum(counts.get(s, 0) for s in q.FINAL_STATES) == total

        await eventually(done, limit)
        return await q.item_counts(self.db, item_id)


async def eventually(check: Callable[[], Awaitable[bool]], limit: float = 10.0) -> None:
    async with asyncio.timeout(limit):
        for _ in range(100_000):
            if await check():
                return
            await asyncio.sleep(0.05)


@asynccontextmanager
async def running_bot(
    tmp_path: Path,
    api: TelegramApi,
    limits: PlatformLimits | None = None,
    posts: list[tuple[Post, list[q.Target]]] | None = None,
) -> AsyncIterator[Running]:
    """The bot running against the stand-in; `posts` are in the outbox before it starts."""
    data = {
        "console": {"enabled": False},
        "telegram": {"enabled": True, "api_base": f"{api.url}/bot"},
        "storage": {"path": str(tmp_path / "bot.sqlite3")},
        "channels": [{"name": "news", "platform": "telegram", "chat": str(CHANNEL)}],
        "admins": {"telegram": [ADMIN]},
    }
    config = parse_config(data, base_dir=tmp_path, environ={"TELEGRAM_BOT_TOKEN": api.token})
    async with open_database(config.database_path()) as db:
        adapter = adapter_for(api, limits=limits)
        app = build_app(config, db, adapters={"telegram": adapter})
        seen: list[Incoming] = []
        dispatch = app.dispatch

        async def recording(incoming: Incoming) -> None:
            seen.append(incoming)
            await dispatch(incoming)

        app.dispatch = recording  # type: ignore[method-assign]
        running = Running(app, adapter, db, seen, [])
        for post, targets in posts or []:
            running.items.append(await running.post(post, targets))
        task = asyncio.create_task(app.run())
        try:
            await api.wait_until(lambda: api.stats.calls["getUpdates"] > 0)
            yield running
        finally:
            app.request_stop()
            async with asyncio.timeout(15):
                await task


async def test_start_and_help_in_a_private_chat_are_answered(
    tmp_path: Path, api: TelegramApi
) -> None:
    async with running_bot(tmp_path, api):
        asked = api.inject_text(USER, "/start")
        await api.wait_until(lambda: len(api.bot_messages(USER)) == 1)
        api.inject_text(USER, "/help@outreach_test_bot")
        await api.wait_until(lambda: len(api.bot_messages(USER)) == 2)
    start, help_ = api.bot_messages(USER)
    assert "Outreach bot" in start.text
    assert start.reply_to == asked
    assert "/subscribe" in help_.text
    assert "/feeds" not in help_.text  # admin commands only for admins


async def test_an_article_reaches_the_channel_as_valid_html(
    tmp_path: Path, api: TelegramApi
) -> None:
    article = Post(
        blocks=(
            para(bold("Why we march"), " — ", link("read it", "https://example.org/a?x=1&y=2")),
            para("Protests in 40 cities & counting."),
            bullets("Moscow", "Saint Petersburg"),
        ),
        buttons=((Button("Donate", command="/donate ua 50"),),),
        link_preview=True,
    )
    async with running_bot(tmp_path, api, posts=[(article, [NEWS])]) as bot:
        assert await bot.settled(bot.items[0], 1) == {"sent": 1}
    [shown] = api.bot_messages(CHANNEL)
    assert parse_html(shown.html) == shown.text  # the stand-in parsed it like Telegram does
    assert shown.text.startswith("Why we march — read it\n\nProtests in 40 cities & counting.")
    assert "• Moscow\n• Saint Petersburg" in shown.text
    assert '<a href="https://example.org/a?x=1&amp;y=2">read it</a>' in shown.html
    assert shown.link_preview
    assert shown.keyboard == [[{"text": "Donate", "callback_data": "/donate ua 50"}]]


async def test_a_script_tag_in_a_title_arrives_escaped(tmp_path: Path, api: TelegramApi) -> None:
    title = "<script>alert('pwned')</script> <b>Breaking</b>"
    post = Post(blocks=(para(bold(title)), para("body")))
    async with running_bot(tmp_path, api, posts=[(post, [NEWS])]) as bot:
        assert await bot.settled(bot.items[0], 1) == {"sent": 1}
    [shown] = api.bot_messages(CHANNEL)
    assert shown.text == f"{title}\n\nbody"
    assert "<script>" not in shown.html


async def test_an_emoji_heavy_long_post_arrives_under_the_limit(
    tmp_path: Path, api: TelegramApi
) -> None:
    body = " ".join("✊🏽🇺🇦👩\u200d👩\u200d👧 solidarity" for _ in range(600))
    post = Post(blocks=(para(bold("Title")), para(body)))
    async with running_bot(tmp_path, api, posts=[(post, [NEWS])]) as bot:
        assert await bot.settled(bot.items[0], 1) == {"sent": 1}
    [shown] = api.bot_messages(CHANNEL)
    assert 4000 < utf16_len(shown.text) <= 4096
    assert shown.text.endswith("solidarity…")


async def test_a_button_press_runs_its_command(tmp_path: Path, api: TelegramApi) -> None:
    api.add_chat(USER)
    long_command = "/help " + "x" * 80  # over 64 bytes: travels as a token
    buttons = ((Button("Help", command="/help"), Button("More", command=long_command)),)
    async with running_bot(tmp_path, api) as bot:
        sent = await bot.adapter.send(
            ChatRef("telegram", str(USER)),
            Post(blocks=(para("Pick one"),), buttons=buttons),
            key="k",
        )
        [[help_button, more_button]] = api.bot_messages(USER)[0].keyboard
        assert more_button["callback_data"] == callback_data_for(long_command)
        first = api.press_button(USER, int(sent.message_id), help_button["callback_data"])
        await api.wait_until(lambda: len(api.bot_messages(USER)) == 2)
        second = api.press_button(USER, int(sent.message_id), more_button["callback_data"])
        await api.wait_until(lambda: len(api.bot_messages(USER)) == 3)
    assert "/subscribe" in api.bot_messages(USER)[1].text
    assert "/subscribe" in api.bot_messages(USER)[2].text
    assert set(api.answers) == {first, second}  # both answered: no endless spinner
    presses = [i for i in bot.incoming if i.kind is IncomingKind.BUTTON]
    assert [i.text for i in presses] == ["/help", long_command]


async def test_an_expired_button_token_is_answered_and_ignored(
    tmp_path: Path, api: TelegramApi
) -> None:
    api.add_chat(USER)
    async with running_bot(tmp_path, api) as bot:
        sent = await bot.adapter.send(ChatRef("telegram", str(USER)), Post.text("old"), key="k")
        query = api.press_button(USER, int(sent.message_id), "c:0123456789abcdef0123")
        await api.wait_until(lambda: query in api.answers)
    assert api.answers[query]["text"] == EXPIRED_BUTTON.msgid
    assert len(api.bot_messages(USER)) == 1
    assert not [i for i in bot.incoming if i.kind is IncomingKind.BUTTON]


async def test_a_user_who_blocked_the_bot_is_deactivated(tmp_path: Path, api: TelegramApi) -> None:
    async with running_bot(tmp_path, api) as bot:
        api.inject_text(USER, "/subscribe")
        await api.wait_until(lambda: len(api.bot_messages(USER)) == 1)
        assert await fq.get_subscriber(bot.db, "telegram", str(USER)) is not None
        api.block_bot(USER)
        await api.wait_until(lambda: any(i.kind is IncomingKind.BOT_REMOVED for i in bot.incoming))
        target = q.Target("telegram", str(USER), "private", "subscriber")
        item = await bot.post(Post.text("New article"), [target])
        assert await bot.settled(item, 1) == {"gone": 1}
        assert await fq.get_subscriber(bot.db, "telegram", str(USER)) is None
    [removed] = [i for i in bot.incoming if i.kind is IncomingKind.BOT_REMOVED]
    assert (removed.chat.id, removed.chat.kind) == (str(USER), ChatKind.PRIVATE)
    assert [m.text for m in api.bot_messages(USER)][1:] == []  # only the /subscribe answer


class Collector:
    """An `on_incoming` that keeps what it is given and lets a test wait for it."""

    def __init__(self) -> None:
        self.seen: list[Incoming] = []
        self.arrived = asyncio.Event()

    async def __call__(self, incoming: Incoming) -> None:
        self.seen.append(incoming)
        self.arrived.set()

    async def wait(self, count: int = 1) -> list[Incoming]:
        async with asyncio.timeout(5):
            while len(self.seen) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.seen


async def test_a_group_migration_reaches_the_app_and_sends_follow_it(api: TelegramApi) -> None:
    collect = Collector()
    adapter = adapter_for(api)
    await adapter.start(collect)
    try:
        api.migrate_group(-5, -1005, user_id=USER)
        seen = await collect.wait()
        sent = await adapter.send(
            ChatRef("telegram", "-5", ChatKind.GROUP), Post.text("hi"), key="k"
        )
    finally:
        await adapter.stop()
    [migrated] = seen
    assert migrated.kind is IncomingKind.CHAT_MIGRATED
    assert (migrated.chat.id, migrated.new_chat_id) == ("-5", "-1005")
    assert sent.chat.id == "-1005"
    assert [m.text for m in api.bot_messages(-1005)] == ["hi"]


async def test_a_429_burst_is_waited_out_with_nothing_lost(
    tmp_path: Path, api: TelegramApi
) -> None:
    users = range(5000, 5010)
    for user in users:
        api.add_chat(user)
    api.fail_next(3, "429", retry_after=1)
    targets = [q.Target("telegram", str(u), "private", "subscriber") for u in users]
    posts = [(Post.text("Urgent: rally at noon"), targets)]
    async with running_bot(tmp_path, api, posts=posts) as bot:
        assert await bot.settled(bot.items[0], len(targets)) == {"sent": 10}
    assert api.stats.rejected_429 == 3
    assert all(len(api.bot_messages(u)) == 1 for u in users)


async def test_500_subscribers_under_strict_limits_get_zero_429s(
    tmp_path: Path, api: TelegramApi
) -> None:
    # Telegram's limits scaled up 5x so the test takes seconds: the pacing logic is the same.
    api.strict(overall_per_second=150, per_chat_per_second=1, per_group_per_minute=20)
    limits = dataclasses.replace(TELEGRAM_LIMITS, global_rate=135.0)
    users = range(10_000, 10_500)
    for user in users:
        api.add_chat(user)
    targets = [q.Target("telegram", str(u), "private", "subscriber") for u in users]
    posts = [(Post.text("A new article"), [*targets, NEWS])]
    async with running_bot(tmp_path, api, limits=limits, posts=posts) as bot:
        assert await bot.settled(bot.items[0], 501, limit=20) == {"sent": 501}
    assert api.stats.rejected_429 == 0
    assert api.stats.sent == 501
    assert all(len(api.bot_messages(u)) == 1 for u in users)


async def test_sends_map_server_failures_to_neutral_errors(api: TelegramApi) -> None:
    adapter = adapter_for(api, read_timeout=0.5)
    await adapter.start(None)
    chat = ChatRef("telegram", str(CHANNEL), ChatKind.CHANNEL)
    try:
        # A 5xx answered the send: Telegram may have acted on it (issue 14).
        for kind, expected in [("500", MaybeDelivered), ("400", Rejected), ("403", ChatGone)]:
            api.fail_next(1, kind)
            with pytest.raises(expected):
                await adapter.send(chat, Post.text("x"), key="k")
        api.fail_next(1, "hang")
        with pytest.raises(MaybeDelivered):
            await adapter.send(chat, Post.text("x"), key="k")
        # "chat not found" is ambiguous (not visible now): the chat is paused, not dropped.
        with pytest.raises(CannotPostNow):
            await adapter.send(ChatRef("telegram", "404404"), Post.text("x"), key="k")
    finally:
        await adapter.stop()
    assert not api.bot_messages(CHANNEL)


async def test_an_unreachable_api_fails_start_as_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        adapter = TelegramAdapter(token="1:x", api_base=f"http://127.0.0.1:{port}/bot")
        with pytest.raises(Transient):
            await adapter.start(None)
    await adapter.stop()


async def test_photos_edits_and_a_refused_image(api: TelegramApi) -> None:
    adapter = adapter_for(api)
    await adapter.start(None)
    chat = ChatRef("telegram", str(CHANNEL), ChatKind.CHANNEL)
    try:
        photo = await adapter.send(
            chat, Post(blocks=(para("caption"),), image_url="https://example.org/i.jpg"), key="a"
        )
        await adapter.edit(
            photo, Post(blocks=(para("new caption"),), image_url="https://x/i.jpg"), key="e1"
        )
        text = await adapter.send(chat, Post.text("first"), key="b")
        await adapter.edit(text, Post.text("second"), key="e2")
        await adapter.edit(text, Post.text("second"), key="e3")  # unchanged: not an error
        broken = Post(blocks=(para("still shown"),), image_url="https://example.org/broken.jpg")
        await adapter.send(chat, broken, key="c")
    finally:
        await adapter.stop()
    shown = api.bot_messages(CHANNEL)
    assert [(m.photo is not None, m.text) for m in shown] == [
        (True, "new caption"),
        (False, "second"),
        (False, "still shown"),
    ]


async def test_a_long_post_with_an_image_arrives_as_photo_then_text(api: TelegramApi) -> None:
    api.strict(overall_per_second=30, per_chat_per_second=1, per_group_per_minute=20)
    adapter = adapter_for(api)
    await adapter.start(None)
    post = Post(
        blocks=(para(bold("Title")), para("word " * 600)),
        image_url="https://example.org/i.jpg",
        buttons=((Button("Help", command="/help"),),),
    )
    try:
        sent = await adapter.send(
            ChatRef("telegram", str(CHANNEL), ChatKind.CHANNEL), post, key="k"
        )
    finally:
        await adapter.stop()
    photo, text = api.bot_messages(CHANNEL)
    assert (photo.photo, photo.text) == ("https://example.org/i.jpg", "Title")
    assert text.text.startswith("word word")
    assert text.keyboard == [[{"text": "Help", "callback_data": "/help"}]]
    assert sent.message_id == str(text.message_id)
    assert api.stats.rejected_429 == 0  # the text waited its turn: no 429


async def test_published_command_menus(api: TelegramApi) -> None:
    api.add_chat(ADMIN)
    adapter = adapter_for(api)
    await adapter.start(None)
    try:
        english = CommandMenu(
            "", [("start", "what this bot does"), ("help", "list the commands")],
            [("feeds", "each feed's status")],
        )  # fmt: skip
        russian = CommandMenu("ru", [("start", "что умеет бот")], [("feeds", "ленты")])
        # OTHER never opened a chat with the bot: skipped (and tried once, not per language)
        await adapter.publish_commands([english, russian], [str(OTHER), str(ADMIN)])
    finally:
        await adapter.stop()
    assert api.menu() == ["start", "help"]
    assert api.menu(ADMIN) == ["start", "help", "feeds"]
    assert api.menu(OTHER) == []
    assert api.menu(language_code="ru") == ["start"]
    assert api.menu(ADMIN, language_code="ru") == ["start", "feeds"]
    ru_default = api.commands[json.dumps({"type": "default"}), "ru"]
    assert ru_default == [{"command": "start", "description": "что умеет бот"}]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_mode_checks_the_secret(api: TelegramApi) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    collect = Collector()
    adapter = adapter_for(
        api, webhook_url=url, webhook_listen=f"127.0.0.1:{port}", webhook_secret="s3cret-Token"
    )
    await adapter.start(collect)
    try:
        assert api.webhook == {"url": url, "secret_token": "s3cret-Token"}
        api.inject_text(USER, "/start")  # the stand-in POSTs it to the webhook
        seen = await collect.wait()
        forged = {"update_id": 99, "message": {"message_id": 1, "date": 1, "chat": {"id": 1}}}
        async with aiohttp.ClientSession() as session:
            headers = {"X-Telegram-Bot-Api-Secret-Token": "guess"}
            async with session.post(url, json=forged, headers=headers) as response:
                assert response.status == 403
    finally:
        await adapter.stop()
    assert [i.text for i in seen] == ["/start"]


async def test_the_token_never_reaches_the_logs(
    tmp_path: Path,
    api: TelegramApi,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    plain = logging.StreamHandler(sys.stderr)  # no redacting formatter: the adapter must cope
    plain.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(plain)
    api.add_chat(USER)
    try:
        async with running_bot(tmp_path, api) as bot:
            api.inject_text(USER, "/start")
            await api.wait_until(lambda: len(api.bot_messages(USER)) == 1)
            api.fail_next(1, "500")
            api.fail_next(1, "403")
            for _ in range(2):
                with pytest.raises((MaybeDelivered, ChatGone)) as raised:
                    await bot.adapter.send(ChatRef("telegram", str(USER)), Post.text("x"), key="k")
                logging.getLogger("test").warning("send failed: %s", raised.value)
        dead = TelegramAdapter(token=api.token, api_base=f"http://127.0.0.1:{free_port()}/bot")
        with pytest.raises(Transient) as raised:
            await dead.start(None)
        logging.getLogger("test").exception("start failed", exc_info=raised.value)
    finally:
        logging.getLogger().removeHandler(plain)
    logged = caplog.text + capfd.readouterr().err
    assert "Set Bot API URL" in logged  # PTB's DEBUG lines were captured ...
    secret = api.token.split(":", 1)[1]
    assert secret.lower() not in logged.lower()  # ... without the token


def test_only_adapters_with_a_command_menu_publish_one() -> None:
    telegram = TelegramAdapter(token="1:x", api_base="http://127.0.0.1:9/bot")
    assert isinstance(telegram, PublishesCommands)
    assert telegram.username == ""  # not started: the check must not need a connection
    console = ConsoleAdapter(user="ann", on_eof=lambda: None)
    assert not isinstance(console, PublishesCommands)
