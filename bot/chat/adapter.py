"""The one interface every chat platform sits behind."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.chat.model import ChatRef, Incoming, Post, SentRef
from bot.chat.pacing import CallGate, Pacer

OnIncoming = Callable[[Incoming], Awaitable[None]]
# A command as a platform's menu shows it: its name (without "/") and a one-line summary.
CommandSummary = tuple[str, str]


# The idempotency key of an outbox row's send starts with this: a send for many chats
# (a fan-out), which an adapter may take a leaner path for. Replies never have one.
OUTBOX_KEY_PREFIX = "outbox-"


@dataclass(frozen=True, slots=True)
class CommandMenu:
    """The command menus in one language: `public` for everyone, `public` + `admin` for
    admins. `language` is a two-letter ISO 639-1 code, or "" for the menu shown to users
    whose app language has no menu of its own."""

    language: str
    public: Sequence[CommandSummary]
    admin: Sequence[CommandSummary]


@dataclass(frozen=True, slots=True)
class PlatformLimits:
    """A platform's published limits, used to render and to pace.

    `per_chat_interval` is the minimum gap between two messages to one chat
    (for groups and channels; private chats use `private_interval`), and
    `global_rate` the messages per second across all chats (0: unlimited),
    with bursts of up to `burst` messages.
    """

    text_max: int
    caption_max: int
    global_rate: float
    per_chat_interval: float
    private_interval: float = 0.0
    burst: float = 1.0


def pacer_for(limits: PlatformLimits) -> Pacer:
    """A platform's pacer from its published limits."""
    return Pacer(
        rate=limits.global_rate if limits.global_rate > 0 else None,
        burst=limits.burst,
        group_interval=limits.per_chat_interval,
        private_interval=limits.private_interval,
    )


class StateStore(Protocol):
    """Small durable key/value state an adapter may keep (sync tokens, device ids).

    The composition root passes one backed by the bot's database; adapters
    never touch storage directly.
    """

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...


class ChatAdapter(Protocol):
    """A chat platform as the rest of the bot sees it."""

    platform: str
    limits: PlatformLimits
    # The platform's one pacer: every API call the adapter makes takes a token here.
    pacing: CallGate

    async def start(self, on_incoming: OnIncoming | None) -> None:
        """Connect; returns when ready to send.

        With `on_incoming`, also begin handing it incoming updates; with None
        the adapter only sends (e.g. `run --once`).
        """
        ...

    async def send(
        self, chat: ChatRef, post: Post, *, key: str, reply_to: str | None = None
    ) -> SentRef:
        """Deliver `post` to `chat`. `key` is a stable idempotency key for this delivery."""
        ...

    async def edit(self, sent: SentRef, post: Post, *, key: str) -> SentRef:
        """Replace the content of an earlier post; returns where it is now.

        `key` is a stable idempotency key for this edit (the outbox row and the edit's
        sequence), like `send`'s: Matrix uses it as the transaction id.
        """
        ...

    async def stop(self) -> None:
        """Stop receiving and release every resource; safe to call twice."""
        ...


@runtime_checkable
class PublishesCommands(Protocol):
    """An optional adapter capability: the platform shows the bot's commands in a menu.

    The composition root checks for it with `isinstance` after the adapter has
    started, and publishes the menus; adapters without it simply have no menu.
    """

    platform: str

    @property
    def username(self) -> str:
        """The bot's own user name on the platform (for `/cmd@name`); "" until started."""
        ...

    async def publish_commands(
        self, menus: Sequence[CommandMenu], admin_ids: Sequence[str]
    ) -> None:
        """Publish each language's menus: the public one to everyone whose app is set to
        that language, and public + admin to the users in `admin_ids`."""
        ...


@runtime_checkable
class OffersDeepLinks(Protocol):
    """An optional adapter capability: links that open a private chat with the bot.

    Opening `deep_link("donate-russia")` starts a private chat in which the bot
    receives `/start donate-russia`. Such platforms also have real buttons.
    """

    def deep_link(self, payload: str) -> str | None:
        """The link for `payload` (1-64 of `A-Za-z0-9_-`); None until the bot knows its name."""
        ...


@runtime_checkable
class ReceivesInRole(Protocol):
    """An optional adapter capability: updates arrive through a channel only one process
    may hold at a time (Telegram's `getUpdates`: a second consumer gets 409 Conflict).

    With several instances the adapter is built with that receiving left to a role:
    `start` connects without it, and the platform's role holder runs `receive` while it
    holds the role. `receives_in_role` is False when `start` receives by itself (one
    instance) or when every instance may receive (a webhook).
    """

    platform: str

    @property
    def receives_in_role(self) -> bool: ...

    async def receive(self, stop: asyncio.Event) -> None:
        """Receive updates (handed to `start`'s `on_incoming`) until `stop` is set."""
        ...
