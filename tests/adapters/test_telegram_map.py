"""Telegram updates to Incomings and PTB errors to neutral errors (pure, no network)."""

from __future__ import annotations

import datetime as dtm
from typing import Any

import pytest
from telegram import Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.adapters.telegram_map import to_chat_error, to_incoming
from bot.chat import (
    CannotPostNow,
    ChatError,
    ChatGone,
    ChatKind,
    ChatMoved,
    IncomingKind,
    MaybeDelivered,
    RateLimited,
    Rejected,
    Transient,
)

BOT = {"id": 42, "is_bot": True, "first_name": "Bot", "username": "outreach_bot"}
ALICE = {"id": 1001, "is_bot": False, "first_name": "Alice", "last_name": "A"}
PRIVATE = {"id": 1001, "type": "private", "first_name": "Alice"}
GROUP = {"id": -5, "type": "group", "title": "Friends"}
SUPERGROUP = {"id": -1005, "type": "supergroup", "title": "Friends"}
CHANNEL = {"id": -1009, "type": "channel", "title": "News"}


def update(**fields: Any) -> Update:
    return Update.de_json({"update_id": 1, **fields}, None)


def message(chat: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"message_id": 7, "date": 1_700_000_000, "chat": chat, "from": ALICE, **fields}


def test_a_private_text_message() -> None:
    incoming = to_incoming(update(message=message(PRIVATE, text="/donate@outreach_bot ua 50")))
    assert incoming is not None
    assert incoming.kind is IncomingKind.MESSAGE
    assert (incoming.chat.platform, incoming.chat.id, incoming.chat.kind) == (
        "telegram",
        "1001",
        ChatKind.PRIVATE,
    )
    assert (incoming.sender.id, incoming.sender.display_name) == ("1001", "Alice A")
    assert incoming.text == "/donate@outreach_bot ua 50"  # the router parses commands
    assert incoming.message_id == "7"


@pytest.mark.parametrize(("chat", "kind"), [(GROUP, ChatKind.GROUP), (SUPERGROUP, ChatKind.GROUP)])
def test_group_messages(chat: dict[str, Any], kind: ChatKind) -> None:
    incoming = to_incoming(update(message=message(chat, text="/help")))
    assert incoming is not None
    assert (incoming.chat.id, incoming.chat.kind, incoming.chat.title) == (
        str(chat["id"]),
        kind,
        "Friends",
    )


def test_a_channel_post_is_sent_by_the_channel() -> None:
    post = {"message_id": 3, "date": 1_700_000_000, "chat": CHANNEL, "sender_chat": CHANNEL}
    incoming = to_incoming(update(channel_post=post | {"text": "/help"}))
    assert incoming is not None
    assert incoming.chat.kind is ChatKind.CHANNEL
    assert incoming.sender.id == "-1009"


def test_a_button_press_carries_its_callback_data() -> None:
    bot_message = message(GROUP, text="pick") | {"from": BOT, "message_id": 9}
    query = {"id": "q1", "from": ALICE, "chat_instance": "x", "data": "/help"}
    incoming = to_incoming(update(callback_query=query | {"message": bot_message}))
    assert incoming is not None
    assert incoming.kind is IncomingKind.BUTTON
    assert (incoming.text, incoming.chat.id, incoming.message_id) == ("/help", "-5", "9")
    assert incoming.sender.id == "1001"


def test_a_press_under_a_channel_post_is_answered_privately() -> None:
    post = {"message_id": 4, "date": 1_700_000_000, "chat": CHANNEL, "text": "article"}
    query = {"id": "q1", "from": ALICE, "chat_instance": "x", "data": "/donate ua"}
    incoming = to_incoming(update(callback_query=query | {"message": post}))
    assert incoming is not None
    assert (incoming.chat.id, incoming.chat.kind) == ("1001", ChatKind.PRIVATE)
    assert incoming.message_id is None


ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)


def member_update(chat: dict[str, Any], old: str, new: str) -> Update:
    def member(status: str) -> dict[str, Any]:
        extra: dict[str, Any] = {"until_date": 0} if status == "kicked" else {}
        if status == "administrator":
            extra = {"can_be_edited": False, "is_anonymous": False} | dict.fromkeys(
                ADMIN_RIGHTS, True
            )
        return {"user": BOT, "status": status, **extra}

    change = {"chat": chat, "from": ALICE, "date": 1_700_000_000}
    members = {"old_chat_member": member(old), "new_chat_member": member(new)}
    return update(my_chat_member=change | members)


@pytest.mark.parametrize(
    ("chat", "old", "new", "kind"),
    [
        (PRIVATE, "member", "kicked", IncomingKind.BOT_REMOVED),  # the user blocked the bot
        (PRIVATE, "kicked", "member", IncomingKind.BOT_ADDED),  # ... and unblocked it
        (GROUP, "member", "left", IncomingKind.BOT_REMOVED),
        (CHANNEL, "left", "administrator", IncomingKind.BOT_ADDED),
        (GROUP, "member", "administrator", None),  # promoted: still there
        (CHANNEL, "administrator", "member", None),  # demoted: a send will pause the channel
        # Issue 14: promoted again in a channel, the bot may post again: it resumes.
        (CHANNEL, "member", "administrator", IncomingKind.BOT_ADDED),
    ],
)
def test_membership_changes(
    chat: dict[str, Any], old: str, new: str, kind: IncomingKind | None
) -> None:
    incoming = to_incoming(member_update(chat, old, new))
    if kind is None:
        assert incoming is None
        return
    assert incoming is not None
    assert (incoming.kind, incoming.chat.id) == (kind, str(chat["id"]))


def test_a_group_migration_names_the_new_chat() -> None:
    incoming = to_incoming(update(message=message(GROUP, migrate_to_chat_id=-1005)))
    assert incoming is not None
    assert incoming.kind is IncomingKind.CHAT_MIGRATED
    assert (incoming.chat.id, incoming.new_chat_id) == ("-5", "-1005")


@pytest.mark.parametrize(
    "fields",
    [
        {"edited_message": message(PRIVATE, text="/help", edit_date=1_700_000_001)},
        {"message": message(PRIVATE, sticker=None)},  # no text
        {"chat_join_request": {"chat": GROUP, "from": ALICE, "user_chat_id": 1001, "date": 1}},
    ],
)
def test_other_updates_are_ignored(fields: dict[str, Any]) -> None:
    assert to_incoming(update(**fields)) is None


# Built here so that no token-shaped string sits in the repository.
TOKEN = "123456789:" + "AA" + "Example" * 5
ERRORS: list[tuple[TelegramError, type[ChatError]]] = [
    (Forbidden("Forbidden: bot was blocked by the user"), ChatGone),
    (Forbidden("Forbidden: bot was kicked from the channel chat"), ChatGone),
    (Forbidden("Forbidden: bot is not a member of the channel chat"), ChatGone),
    (Forbidden("Forbidden: bot can't initiate conversation with a user"), ChatGone),
    # Issue 14: ambiguous refusals pause the chat instead of dropping it for good.
    (BadRequest("Bad Request: chat not found"), CannotPostNow),
    (BadRequest("Bad Request: not enough rights to send text messages to the chat"), CannotPostNow),
    (BadRequest("Bad Request: need administrator rights in the channel chat"), CannotPostNow),
    (BadRequest("Bad Request: bot was kicked from the supergroup chat"), ChatGone),
    (BadRequest("Bad Request: user is deactivated"), ChatGone),
    (BadRequest("Bad Request: have no rights to send a message"), CannotPostNow),
    (ChatMigrated(-1005), ChatMoved),
    (BadRequest("Bad Request: can't parse entities: unsupported start tag"), Rejected),
    (BadRequest("Bad Request: message is too long"), Rejected),
    # The transport raises TimedOut once the request may have been written ...
    (TimedOut("aiohttp.ServerDisconnectedError: no answer from Telegram"), MaybeDelivered),
    (TimedOut(), MaybeDelivered),  # PTB could not say when it happened: assume it was sent
    # ... and a plain NetworkError when it never connected: nothing was sent.
    (NetworkError("aiohttp.ClientConnectorError: not connected"), Transient),
    # A 5xx is an answer: the request reached Telegram, which may have acted on it.
    (NetworkError("Internal Server Error (500)"), MaybeDelivered),
    (NetworkError("Bad Gateway"), MaybeDelivered),
    (InvalidToken("Unauthorized"), Transient),
    (Conflict("Conflict: terminated by other getUpdates request"), Rejected),
]


@pytest.mark.parametrize(("error", "expected"), ERRORS, ids=lambda e: type(e).__name__)
def test_error_mapping(error: TelegramError, expected: type[ChatError]) -> None:
    assert type(to_chat_error(error, TOKEN)) is expected


@pytest.mark.parametrize("period", [7, dtm.timedelta(seconds=2.5)])
def test_retry_after_becomes_seconds(period: int | dtm.timedelta) -> None:
    mapped = to_chat_error(RetryAfter(period))
    assert isinstance(mapped, RateLimited)
    expected = period.total_seconds() if isinstance(period, dtm.timedelta) else period
    assert mapped.retry_after == expected


def test_error_messages_never_hold_the_token() -> None:
    url = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    for error in (
        NetworkError(f"Unknown error in HTTP implementation: InvalidURL('{url}')"),
        BadRequest(f"Bad Request: odd {url}"),
        TimedOut(f"timed out calling {url}"),
    ):
        mapped = to_chat_error(error, TOKEN)
        assert TOKEN not in str(mapped)
        assert "[redacted]" in str(mapped)
