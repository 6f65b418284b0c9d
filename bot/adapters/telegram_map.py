"""Between PTB's types and the neutral model, both ways (pure functions, no I/O).

Updates become `Incoming`s, PTB errors neutral errors (their messages
redacted), and rendered button rows PTB's inline keyboards.
"""

from __future__ import annotations

import datetime as dtm

from telegram import (
    Chat,
    ChatMember,
    ChatMemberRestricted,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
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

from bot.adapters.telegram_render import InlineButton
from bot.chat import (
    CannotPostNow,
    ChatError,
    ChatGone,
    ChatKind,
    ChatMoved,
    ChatRef,
    Incoming,
    IncomingKind,
    MaybeDelivered,
    RateLimited,
    Rejected,
    Sender,
    Transient,
)
from bot.logs import redact

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
    "bot was kicked",
    "user is deactivated",
    "bot is not a member",
    "group chat was deactivated",
    "peer_id_invalid",
)
# BadRequest descriptions that mean "not now": rights taken away (an admin may give
# them back), or a chat the bot cannot see at the moment. The chat is paused, not dropped.
_PAUSE_PHRASES = (
    "chat not found",
    "have no rights to send",
    "not enough rights to send",
    "need administrator rights",
    "chat_write_forbidden",
)
# NetworkErrors our transport raises when nothing reached Telegram (any other is an
# answer from its side, a 5xx: the request may have been acted on).
_NOT_SENT = ("not connected", "invalidurl", "unknown error in http implementation")
# sendPhoto failures that concern the image, not the chat: the post still goes out as text.
_BAD_IMAGE = ("wrong file identifier", "http url", "web page content", "image_process", "photo_")


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
        return Sender(PLATFORM, str(user.id), user.full_name, user.language_code or None)
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


def _may_post(member: ChatMember, kind: ChatKind) -> bool:
    """The bot may post: an admin (of a channel: only an admin), or an unrestricted member."""
    if isinstance(member, ChatMemberRestricted):
        return member.is_member and member.can_send_messages
    if member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR):
        return True
    return member.status == ChatMemberStatus.MEMBER and kind is not ChatKind.CHANNEL


def _from_membership(update: Update) -> Incoming | None:
    changed = update.my_chat_member
    assert changed is not None
    chat = chat_ref(changed.chat)
    if chat is None:
        return None
    old, new = changed.old_chat_member, changed.new_chat_member
    was, now = _is_present(old), _is_present(new)
    if was == now:
        if now and _may_post(new, chat.kind) and not _may_post(old, chat.kind):
            # Its right to post is back (promoted again, restriction lifted): a paused
            # channel resumes as when the bot is added back.
            return Incoming(chat, sender_of(changed.from_user), kind=IncomingKind.BOT_ADDED)
        return None  # e.g. promoted to admin in a group: still there, could post already
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


def markup(rows: tuple[tuple[InlineButton, ...], ...]) -> InlineKeyboardMarkup | None:
    """Rendered button rows as PTB's inline keyboard (None without buttons)."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.label, url=b.url, callback_data=b.callback_data) for b in row]
            for row in rows
        ]
    )


def is_bad_image(exc: BadRequest) -> bool:
    """Telegram refused the post's image (not the chat): the post can go out as text."""
    text = str(exc).lower()
    return any(phrase in text for phrase in _BAD_IMAGE)


def to_chat_error(exc: TelegramError, *secrets: str) -> ChatError:
    """The neutral error for a PTB error; its message never holds any of `secrets`."""
    message = redact(str(exc), secrets)
    if isinstance(exc, RetryAfter):
        return RateLimited(seconds(exc.retry_after), message)
    if isinstance(exc, Forbidden):
        return ChatGone(message)
    if isinstance(exc, ChatMigrated):
        new_id = str(exc.new_chat_id)
        return ChatMoved(new_id, f"the group became a supergroup with id {new_id}")
    if isinstance(exc, InvalidToken):
        return Transient(f"Telegram refused the bot token: {message}")
    if isinstance(exc, BadRequest):
        lowered = message.lower()
        if any(phrase in lowered for phrase in _GONE_PHRASES):
            return ChatGone(message)
        if any(phrase in lowered for phrase in _PAUSE_PHRASES):
            return CannotPostNow(message)
        return Rejected(message)
    if isinstance(exc, TimedOut):
        # The request may have been written (see telegram_transport): Telegram may have
        # acted on it, and a duplicate is worse than a miss.
        return MaybeDelivered(message)
    if isinstance(exc, NetworkError):
        if any(phrase in message.lower() for phrase in _NOT_SENT):
            return Transient(message)  # nothing left the bot: safe to send again
        # A 5xx (or a proxy's 502) answered the request: Telegram may have acted on it.
        return MaybeDelivered(message)
    return Rejected(message)  # e.g. Conflict, EndPointNotFound
