"""Direct sends outside the outbox: replies and messages a service edits in place."""

from __future__ import annotations

from collections.abc import Mapping

from bot.chat.adapter import ChatAdapter
from bot.chat.errors import Rejected
from bot.chat.model import ChatRef, Post, SentRef


class Messenger:
    """Sends to one chat through the adapter of its platform.

    For what concerns one person at a time (a reply, a live progress
    message); anything for many chats goes through the outbox.
    """

    def __init__(self, adapters: Mapping[str, ChatAdapter]) -> None:
        self._adapters = adapters

    def _adapter(self, platform: str) -> ChatAdapter:
        adapter = self._adapters.get(platform)
        if adapter is None:
            raise Rejected(f"no {platform} adapter is running")
        return adapter

    async def send(
        self, chat: ChatRef, post: Post, *, key: str, reply_to: str | None = None
    ) -> SentRef:
        return await self._adapter(chat.platform).send(chat, post, key=key, reply_to=reply_to)

    async def edit(self, sent: SentRef, post: Post) -> None:
        await self._adapter(sent.chat.platform).edit(sent, post)
