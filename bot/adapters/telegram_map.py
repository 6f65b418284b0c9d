"""Telegram updates to neutral Incomings and PTB errors to neutral errors (pure functions).

Also keeps secrets out of text: `redact` for messages, `guard_logs` for PTB's and
httpx's loggers (the one part here with an effect: it installs a logging filter).
"""

from __future__ import annotations

import datetime as dtm
import logging
import os
import re

import httpx
from telegram import Chat, ChatMember, ChatMemberRestricted, Message, Update, User
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.chat import (
    ChatError,
    ChatGone,
    ChatKind,
    ChatRef,
    Incoming,
    IncomingKind,
    MaybeDelivered,
    RateLimited,
    Rejected,
    Sender,
    Transient,
)

# PTB 22 warns on every read of a time period as a number (RetryAfter even reads its own in
# its constructor), which pytest's warnings-as-errors turns into failures. Opt in to the
# timedelta behaviour that PTB 23 makes the default; `seconds` reads both forms.
os.environ.setdefault("PTB_TIMEDELTA", "true")

PLATFORM = "telegram"
_KINDS: dict[str, ChatKind] = {
    ChatType.PRIVATE: ChatKind.PRIVATE,
    ChatType.GROUP: ChatKind.GROUP,
    ChatType.SUPERGROUP: ChatKind.GROUP,
    ChatType.CHANNEL: ChatKind.CHANNEL,
}
_PRESENT = (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER)
# BadRequest descriptions that mean the chat will not take our messages again.
_GONE_PHRASES = (
    "chat not found",
    "bot was kicked",
    "user is deactivated",
    "have no rights to send",
    "not enough rights to send",
    "bot is not a member",
    "chat_write_forbidden",
    "group chat was deactivated",
    "peer_id_invalid",
)
# httpx errors raised before a single byte of the request reached the server.
_BEFORE_SENDING = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# httpx errors raised after the request was written: Telegram may have acted on it.
_AFTER_SENDING = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)


def chat_ref(chat: Chat) -> ChatRef | None:
    """A Telegram chat as a neutral ChatRef (None for kinds the bot does not talk in)."""
    kind = _KINDS.get(chat.type)
    if kind is None:
        return None
    title = chat.title or chat.full_name or chat.username or ""
    return ChatRef(PLATFORM, str(chat.id), kind, title)


def sender_of(user: User | None, chat: Chat | None = None) -> Sender:
    """The sender: a user, or for anonymous channel and group posts the chat itself."""
    if user is not None:
        return Sender(PLATFORM, str(user.id), user.full_name)
    if chat is not None:
        return Sender(PLATFORM, str(chat.id), chat.title or "")
    return Sender(PLATFORM, "", "")


def _from_message(message: Message) -> Incoming | None:
    chat = chat_ref(message.chat)
    if chat is None:
        return None
    sender = sender_of(message.from_user, message.sender_chat)
    if message.migrate_to_chat_id is not None:
        return Incoming(
            chat,
            sender,
            message_id=str(message.message_id),
            kind=IncomingKind.CHAT_MIGRATED,
            new_chat_id=str(message.migrate_to_chat_id),
        )
    text = message.text or message.caption
    if not text:
        return None
    return Incoming(chat, sender, text, message_id=str(message.message_id))


def _is_present(member: ChatMember) -> bool:
    if isinstance(member, ChatMemberRestricted):
        return member.is_member
    return member.status in _PRESENT


def _from_membership(update: Update) -> Incoming | None:
    changed = update.my_chat_member
    assert changed is not None
    chat = chat_ref(changed.chat)
    if chat is None:
        return None
    was, now = _is_present(changed.old_chat_member), _is_present(changed.new_chat_member)
    if was == now:
        return None  # e.g. promoted to admin: still there
    kind = IncomingKind.BOT_ADDED if now else IncomingKind.BOT_REMOVED
    return Incoming(chat, sender_of(changed.from_user), kind=kind)


def _from_button(update: Update) -> Incoming | None:
    query = update.callback_query
    assert query is not None
    sender = sender_of(query.from_user)
    private = ChatRef(PLATFORM, str(query.from_user.id), ChatKind.PRIVATE, sender.display_name)
    message = query.message
    chat = chat_ref(message.chat) if message is not None else None
    if chat is None or chat.kind is ChatKind.CHANNEL:
        # A press under a channel post is answered privately, not in front of the channel.
        return Incoming(private, sender, query.data or "", kind=IncomingKind.BUTTON)
    message_id = str(message.message_id) if message is not None else None
    return Incoming(chat, sender, query.data or "", message_id=message_id, kind=IncomingKind.BUTTON)


def to_incoming(update: Update) -> Incoming | None:
    """The neutral form of an update, or None for updates the bot ignores (edits, polls, ...).

    A button press keeps its raw callback_data as `text`; the adapter resolves
    tokens for long commands before handing it on.
    """
    if update.callback_query is not None:
        return _from_button(update)
    if update.my_chat_member is not None:
        return _from_membership(update)
    message = update.message or update.channel_post
    if message is not None:
        return _from_message(message)
    return None


def seconds(period: int | float | dtm.timedelta) -> float:
    """A PTB time period (a number or, with PTB_TIMEDELTA, a timedelta) in seconds."""
    if isinstance(period, dtm.timedelta):
        return period.total_seconds()
    return float(period)


def redact(text: str, *secrets: str) -> str:
    """`text` without any of `secrets` (PTB messages may quote a URL holding the token).

    Case-insensitive: PTB lower-cases most of a "Bad Request: ..." description.
    """
    for secret in secrets:
        if secret:
            text = re.sub(re.escape(secret), "[redacted]", text, flags=re.IGNORECASE)
    return text


class SecretsFilter(logging.Filter):
    """A logging filter that takes `secrets` out of the records of the loggers it guards."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, *self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text, *self.secrets)
        return True


# PTB logs its API URL (token included) at DEBUG and httpx logs request URLs at INFO. The
# app's formatter redacts too; this also covers handlers it does not own (pytest's caplog).
_REDACTOR = SecretsFilter()


def guard_logs(*secrets: str | None) -> None:
    """Redact `secrets` from PTB's and httpx's loggers; keep httpx request lines out of INFO."""
    _REDACTOR.secrets.update(s for s in secrets if s)
    names = [n for n in logging.Logger.manager.loggerDict if n.split(".")[0] == "telegram"]
    for name in ["telegram", "telegram.Bot", "telegram.ext.ExtBot", *names, "httpx", "httpcore"]:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)
    for name in ("httpx", "httpcore"):
        if logging.getLogger(name).level < logging.WARNING:  # NOTSET would inherit DEBUG
            logging.getLogger(name).setLevel(logging.WARNING)


def _network_error(exc: NetworkError, message: str) -> ChatError:
    cause = exc.__cause__
    if isinstance(cause, _BEFORE_SENDING):
        return Transient(message)
    if isinstance(exc, TimedOut) or isinstance(cause, _AFTER_SENDING):
        # PTB cannot tell whether Telegram acted on it: a duplicate is worse than a miss.
        return MaybeDelivered(message)
    return Transient(message)  # a 5xx, a 502 from a proxy, ...


def to_chat_error(exc: TelegramError, *secrets: str) -> ChatError:
    """The neutral error for a PTB error; its message never holds any of `secrets`."""
    message = redact(str(exc), *secrets)
    if isinstance(exc, RetryAfter):
        return RateLimited(seconds(exc.retry_after), message)
    if isinstance(exc, Forbidden):
        return ChatGone(message)
    if isinstance(exc, ChatMigrated):
        return ChatGone(f"the group became a supergroup with id {exc.new_chat_id}")
    if isinstance(exc, InvalidToken):
        return Transient(f"Telegram refused the bot token: {message}")
    if isinstance(exc, BadRequest):
        lowered = message.lower()
        if any(phrase in lowered for phrase in _GONE_PHRASES):
            return ChatGone(message)
        return Rejected(message)
    if isinstance(exc, NetworkError):
        return _network_error(exc, message)
    return Rejected(message)  # e.g. Conflict, EndPointNotFound
