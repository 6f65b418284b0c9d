"""What every adapter's test rig offers: the adapter, a chat, and an observer of that chat.

The observer reads back what a person in the chat really sees, from the
platform's side: the console's printed output, the Telegram stand-in's record
of messages, or a second Matrix account reading the room from Synapse.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.chat import ChatAdapter, ChatRef, Post, SentRef
from tests.contract.capabilities import Capabilities

IMAGE = "https://example.org/images/rally.jpg"


@dataclass(frozen=True, slots=True)
class Shown:
    """One post of the bot as a person in the chat sees it now (edits applied).

    `id` is the platform's message id (None where the platform shows none),
    `image` a photo shown with it and `buttons` its native buttons as
    (label, command or URL); `size` its length in the unit of the
    adapter's `Capabilities.text_limit`.
    """

    id: str | None
    text: str
    image: str | None = None
    buttons: tuple[tuple[str, str], ...] = ()
    reply_to: str | None = None
    size: int = 0


@dataclass(frozen=True, slots=True)
class Refusing:
    """An adapter and a chat where the platform will refuse sends for a while.

    `retry_after` is the wait the platform announced, when the rig knows it
    exactly; `restore` ends the outage.
    """

    adapter: ChatAdapter
    chat: ChatRef
    restore: Callable[[], Awaitable[None]]
    retry_after: float | None = None


class Rig(Protocol):
    """One adapter, started against its platform, with a chat the bot may post in."""

    name: str
    adapter: ChatAdapter
    chat: ChatRef
    caps: Capabilities

    async def shown(self, chat: ChatRef) -> list[Shown]:
        """The bot's posts in `chat`, oldest first, as a person there sees them now."""
        ...

    async def pinned(self, chat: ChatRef) -> list[str]:
        """The ids of the messages pinned in `chat`."""
        ...

    async def person_says(self, text: str) -> tuple[ChatRef, str]:
        """A person writes `text` to the bot; the chat it was written in and its message id."""
        ...

    async def gone_chat(self, how: str) -> ChatRef:
        """A chat that takes no more posts: `how` is "removed" (kicked or blocked) or
        "unknown" (it never existed)."""
        ...

    async def move_chat(self, chat: ChatRef) -> str:
        """Move `chat` to a new id (a supergroup, an upgraded room); the new id."""
        ...

    async def rate_limited(self) -> Refusing:
        """Where the platform's rate limit will refuse the next sends."""
        ...

    async def unreachable(self) -> Refusing:
        """Where the next send cannot get through (a server error, a closed connection)."""
        ...


async def edit(adapter: ChatAdapter, sent: SentRef, post: Post, *, key: str) -> None:
    """Edit through the adapter; `key` is the edit's own idempotency key, like `send()`'s."""
    await adapter.edit(sent, post, key=key)


def key() -> str:
    """A fresh idempotency key, as the outbox makes one per delivery."""
    return f"contract-{uuid.uuid4().hex}"


async def only_post(rig: Rig, sent: SentRef) -> Shown:
    """The one post the bot has in `sent.chat`, checked to be the one `send` returned."""
    posts = await rig.shown(sent.chat)
    assert len(posts) == 1, posts
    if posts[0].id is not None:
        assert posts[0].id == sent.message_id
    return posts[0]
