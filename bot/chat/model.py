"""The platform-neutral model every adapter speaks.

Nothing here knows about Telegram or Matrix: handlers and services build
these objects and adapters translate them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class ChatKind(enum.StrEnum):
    """What kind of conversation a chat is; pacing and wording depend on it."""

    PRIVATE = "private"
    GROUP = "group"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class ChatRef:
    """One conversation on one platform (a private chat, a group, a channel, a room)."""

    platform: str
    id: str
    kind: ChatKind = ChatKind.PRIVATE
    title: str = ""


@dataclass(frozen=True, slots=True)
class Sender:
    """The person who sent an incoming message.

    `id` is the platform's stable id: a numeric Telegram user id, a full
    Matrix user id, or a console name.
    """

    platform: str
    id: str
    display_name: str = ""
    # The language the person's chat app is set to (a BCP 47 tag such as Telegram's
    # `language_code` "ru" or "pt-br"), when the platform tells; else None.
    language_code: str | None = None


class IncomingKind(enum.StrEnum):
    MESSAGE = "message"
    BUTTON = "button"  # a press on a Button whose action is a command
    BOT_ADDED = "bot_added"  # the bot was added to (or unblocked in) a chat
    BOT_REMOVED = "bot_removed"  # the bot was removed, kicked or blocked
    CHAT_MIGRATED = "chat_migrated"  # the chat got a new id (Telegram supergroup)
    PLATFORM_STOPPED = "platform_stopped"  # the adapter stopped for good; `text` says why


@dataclass(frozen=True, slots=True)
class Incoming:
    """Something a platform told the bot, already translated by an adapter."""

    chat: ChatRef
    sender: Sender
    text: str = ""
    message_id: str | None = None
    kind: IncomingKind = IncomingKind.MESSAGE
    new_chat_id: str | None = None  # set for CHAT_MIGRATED

    @property
    def platform(self) -> str:
        return self.chat.platform


@dataclass(frozen=True, slots=True)
class SentRef:
    """Where a sent post landed, so that it can be edited later."""

    chat: ChatRef
    message_id: str
    # How the platform shows it (e.g. a photo with a caption, or a photo then a text),
    # recorded by the adapter that sent it so that an edit can match; opaque elsewhere.
    form: str = ""


# --- rich text -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """A run of text with inline styles; `link` makes it a hyperlink."""

    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False
    link: str | None = None


@dataclass(frozen=True, slots=True)
class Paragraph:
    spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class BulletList:
    items: tuple[tuple[Span, ...], ...]
    ordered: bool = False


@dataclass(frozen=True, slots=True)
class Quote:
    spans: tuple[Span, ...]


Block = Paragraph | BulletList | Quote


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered under a post.

    Exactly one of `command` (what pressing it would type, e.g.
    "/donate russia 50") or `url` (a link to open) is set. Platforms without
    buttons show the command as a text choice.
    """

    label: str
    command: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.command is None) == (self.url is None):
            raise ValueError("a Button needs exactly one of command or url")


@dataclass(frozen=True, slots=True)
class Appeal:
    """A campaign's request for support carried by a post (an article that asks for money).

    It is not rendered where the post is written: how a reader can give depends on
    the chat it lands in (a channel gets a link that opens a private chat, a private
    chat gets the amounts, a platform without buttons a line of text) and on facts
    known only when it is sent (the bot's user name, the campaign's progress), so
    the sending side turns it into ordinary blocks and buttons (`bot.appeals.sending`).
    `lang` is the language the post is written in.
    """

    campaign: str
    lang: str


@dataclass(frozen=True, slots=True)
class Post:
    """Platform-neutral rich content: blocks of text, an optional image, button rows."""

    blocks: tuple[Block, ...] = ()
    image_url: str | None = None
    buttons: tuple[tuple[Button, ...], ...] = field(default=())
    link_preview: bool = False
    pin: bool = False  # pin it in the chat where the platform allows (announcements)
    # A generated picture (e.g. a progress card) for direct replies. Platforms
    # that show images send it as a photo; the console shows the text alone.
    # The outbox does not store it: posts for many chats use image_url.
    image_png: bytes | None = field(default=None, repr=False)
    # The language code of the words in the post ("ru"; "" for the bot's default): the
    # adapters write their own few words around it (button hints) in the same language.
    lang: str = ""
    appeal: Appeal | None = None  # resolved per chat when sent; adapters never see it

    @classmethod
    def text(cls, *paragraphs: str) -> Post:
        """A post of plain paragraphs."""
        return cls(blocks=tuple(Paragraph((Span(p),)) for p in paragraphs))


# Small builders that keep handler code readable.


def span(text: str) -> Span:
    return Span(text)


def bold(text: str) -> Span:
    return Span(text, bold=True)


def italic(text: str) -> Span:
    return Span(text, italic=True)


def code(text: str) -> Span:
    return Span(text, code=True)


def link(text: str, url: str) -> Span:
    return Span(text, link=url)


def para(*parts: Span | str) -> Paragraph:
    return Paragraph(tuple(Span(p) if isinstance(p, str) else p for p in parts))


def bullets(*items: tuple[Span, ...] | Span | str, ordered: bool = False) -> BulletList:
    def one(item: tuple[Span, ...] | Span | str) -> tuple[Span, ...]:
        if isinstance(item, str):
            return (Span(item),)
        if isinstance(item, Span):
            return (item,)
        return item

    return BulletList(tuple(one(i) for i in items), ordered=ordered)
