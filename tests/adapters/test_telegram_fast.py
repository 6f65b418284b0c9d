"""The fan-out path (telegram_fast): outbox sends straight over aiohttp, against the stand-in.

What the chat shows must be what python-telegram-bot's path shows, and every failure
must map to the same neutral error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)

from bot.adapters.telegram import TELEGRAM_LIMITS, TelegramAdapter
from bot.adapters.telegram_fast import FanoutSender, error_from_answer, prepare
from bot.chat import (
    OUTBOX_KEY_PREFIX,
    Button,
    CallGate,
    ChatError,
    ChatGone,
    ChatKind,
    ChatRef,
    MaybeDelivered,
    Post,
    RateLimited,
    bold,
    link,
    para,
)
from bot.storage import outbox as q
from tests.fakes.telegram import TelegramApi, telegram_api

USER, OTHER = 1001, 1002
GROUP, SUPERGROUP = -5, -1005
FANOUT = OUTBOX_KEY_PREFIX + "test-1"

POSTS = [
    Post.text("plain & <escaped>"),
    Post(
        blocks=(para(bold("Title "), link("read", "https://example.org/a?b=1&c=2")), para("body")),
        buttons=((Button("More", command="/related 7"), Button("Site", url="https://e.org")),),
    ),
    Post(blocks=(para("with preview"),), link_preview=True),
    Post(blocks=(para("a caption"),), image_url="https://example.org/i.jpg"),
    Post(
        blocks=(para("a " + "very " * 20 + "long command"),),
        buttons=((Button("Long", command="/related " + "x" * 80),),),
    ),
]


@pytest.fixture
async def api() -> AsyncIterator[TelegramApi]:
    async with telegram_api() as server:
        server.add_chat(USER)
        server.add_chat(OTHER)
        server.add_chat(GROUP, "group")
        yield server


@pytest.fixture
async def adapter(api: TelegramApi) -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter(
        token=api.token,
        api_base=f"{api.url}/bot",
        poll_timeout=1,
        read_timeout=0.5,
        pacing=CallGate.unlimited(),  # the pacer is tested elsewhere: no waits between calls
    )
    await adapter.start(None)
    try:
        yield adapter
    finally:
        await adapter.stop()


def private(chat_id: int) -> ChatRef:
    return ChatRef("telegram", str(chat_id), ChatKind.PRIVATE)


def shown(api: TelegramApi, chat_id: int) -> list[dict[str, Any]]:
    """What the chat shows, without what differs between two sends (ids, dates)."""
    return [
        {"text": m.text, "photo": m.photo, "keyboard": m.keyboard, "preview": m.link_preview}
        for m in api.bot_messages(chat_id)
    ]


def test_outbox_rows_carry_the_fanout_key_prefix() -> None:
    row = q.DeliveryRow(1, 1, "send", "telegram", "1", "private", "subscriber", "pending", 0,
                        0.0, None, "{}", instance="abc")  # fmt: skip
    assert row.key.startswith(OUTBOX_KEY_PREFIX)


async def test_a_fanout_shows_what_the_ordinary_path_shows(
    api: TelegramApi, adapter: TelegramAdapter
) -> None:
    for post in POSTS:
        fast = await adapter.send(private(USER), post, key=FANOUT)
        slow = await adapter.send(private(OTHER), post, key="reply-1")
        assert fast.message_id == str(api.bot_messages(USER)[-1].message_id)
        assert slow.message_id == str(api.bot_messages(OTHER)[-1].message_id)
    assert shown(api, USER) == shown(api, OTHER)
    assert len(shown(api, USER)) == len(POSTS)
    # The fan-out path made one sendMessage/sendPhoto call per post, nothing else.
    assert api.stats.calls["sendMessage"] + api.stats.calls["sendPhoto"] == 2 * len(POSTS)


async def test_a_long_command_button_still_works_after_a_fanout(
    api: TelegramApi, adapter: TelegramAdapter
) -> None:
    """The adapter remembers a long command's token whichever path sent the post."""
    await adapter.send(private(USER), POSTS[-1], key=FANOUT)
    [button] = api.bot_messages(USER)[-1].keyboard[0]
    assert adapter._buttons.command_for(button["callback_data"]) == "/related " + "x" * 80


async def test_fanout_failures_map_to_the_same_neutral_errors(
    api: TelegramApi, adapter: TelegramAdapter
) -> None:
    async def error_of(key: str, kind: str | None, chat_id: int = USER) -> type[Exception]:
        if kind is not None:
            api.fail_next(1, kind, retry_after=1)
        with pytest.raises(ChatError) as raised:
            await adapter.send(private(chat_id), Post.text("x"), key=key)
        if isinstance(raised.value, RateLimited):
            assert raised.value.retry_after == 1
        return type(raised.value)

    for kind in ("500", "400", "403", "429", "hang"):
        ordinary = await error_of("reply-1", kind)
        assert await error_of(FANOUT, kind) is ordinary, kind
    assert await error_of(FANOUT, None, 404404) is await error_of("reply-1", None, 404404)
    assert {await error_of(FANOUT, k) for k in ("403", "429", "hang")} == {
        ChatGone, RateLimited, MaybeDelivered,
    }  # fmt: skip
    assert not api.bot_messages(USER)


async def test_a_fanout_follows_a_migrated_group_and_drops_a_refused_image(
    api: TelegramApi, adapter: TelegramAdapter
) -> None:
    api.add_chat(SUPERGROUP, "supergroup")
    api.migrate_group(GROUP, SUPERGROUP)
    group = ChatRef("telegram", str(GROUP), ChatKind.GROUP)
    sent = await adapter.send(group, Post.text("to the new id"), key=FANOUT)
    assert sent.chat.id == str(SUPERGROUP)
    broken = Post(blocks=(para("still shown"),), image_url="https://example.org/broken.jpg")
    await adapter.send(private(USER), broken, key=FANOUT)
    assert [m.text for m in api.bot_messages(SUPERGROUP)] == ["to the new id"]
    assert [(m.text, m.photo) for m in api.bot_messages(USER)] == [("still shown", None)]


async def test_only_fanout_sends_are_paid_broadcasts(api: TelegramApi) -> None:
    api.strict(overall_per_second=1, per_chat_per_second=1, paid_per_second=5)
    for n in range(4):
        api.add_chat(USER + 10 + n)
    limits = dataclasses.replace(TELEGRAM_LIMITS, global_rate=1000.0)
    adapter = TelegramAdapter(
        token=api.token, api_base=f"{api.url}/bot", limits=limits, paid_broadcast=True
    )
    await adapter.start(None)
    try:
        await adapter.send(private(USER + 13), Post.text("a reply"), key="reply-1")
        for n in range(3):  # over the free window of 1 a second: only paid sends get through
            await adapter.send(private(USER + 10 + n), Post.text("news"), key=FANOUT)
    finally:
        await adapter.stop()
    assert (api.stats.sent, api.stats.paid, api.stats.rejected_429) == (4, 3, 0)


def test_a_post_of_several_calls_takes_the_ordinary_path() -> None:
    long_with_photo = Post(blocks=(para("word " * 600),), image_url="https://example.org/i.jpg")
    assert prepare(long_with_photo, TELEGRAM_LIMITS, paid_broadcast=False) is None
    assert (
        prepare(dataclasses.replace(POSTS[0], pin=True), TELEGRAM_LIMITS, paid_broadcast=False)
        is None
    )
    picture = Post(blocks=(para("card"),), image_png=b"\x89PNG...")
    assert prepare(picture, TELEGRAM_LIMITS, paid_broadcast=False) is None


def test_a_post_is_prepared_once_while_it_is_being_sent() -> None:
    async def never(method: str, body: bytes) -> tuple[int, bytes]:
        raise AssertionError("not called")

    sender = FanoutSender(never, TELEGRAM_LIMITS, paid_broadcast=True)
    post = POSTS[1]
    first = sender.prepare(post)
    assert first is not None
    assert sender.prepare(post) is first
    assert sender.prepare(dataclasses.replace(post)) == first  # an equal post: same call
    assert b'"allow_paid_broadcast":true' in first.body("42")
    assert first.body("42").startswith(b'{"chat_id":42,')
    assert first.body("@news").startswith(b'{"chat_id":"@news",')


@pytest.mark.parametrize(
    ("status", "answer", "expected"),
    [
        (400, {"description": "Bad Request: chat not found"}, BadRequest),
        (403, {"description": "Forbidden: bot was blocked by the user"}, Forbidden),
        (429, {"description": "Too Many Requests", "parameters": {"retry_after": 5}}, RetryAfter),
        (
            400,
            {"description": "migrated", "parameters": {"migrate_to_chat_id": -100}},
            ChatMigrated,
        ),
        (401, {"description": "Unauthorized"}, InvalidToken),
        (404, None, InvalidToken),
        (502, None, NetworkError),
        (500, {"description": "Internal Server Error"}, NetworkError),
    ],
)
def test_error_answers_become_the_errors_ptb_raises(
    status: int, answer: dict[str, Any] | None, expected: type[Exception]
) -> None:
    error = error_from_answer(status, answer)
    assert type(error) is expected
    if answer and answer.get("description") and expected in (BadRequest, Forbidden):
        assert str(error) == str(expected(answer["description"]))


async def test_a_fanout_of_several_calls_is_paid_throughout(api: TelegramApi) -> None:
    adapter = TelegramAdapter(token=api.token, api_base=f"{api.url}/bot", paid_broadcast=True)
    await adapter.start(None)
    long_with_photo = Post(blocks=(para("word " * 600),), image_url="https://example.org/i.jpg")
    try:
        await adapter.send(private(USER), long_with_photo, key=FANOUT)
        await adapter.send(private(OTHER), long_with_photo, key="reply-2")
    finally:
        await adapter.stop()
    assert [m.photo is not None for m in api.bot_messages(USER)] == [True, False]
    assert (api.stats.sent, api.stats.paid) == (4, 2)
