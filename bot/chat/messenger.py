"""Direct sends outside the outbox: replies and messages a service edits in place."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from bot.chat.adapter import ChatAdapter
from bot.chat.errors import RateLimited, Rejected
from bot.chat.model import ChatRef, Post, SentRef
from bot.chat.pacing import urgent

log = logging.getLogger(__name__)

ATTEMPTS = 3  # a reply asked to wait is tried again after the wait, this often in all
LONGEST_WAIT = 60.0  # a longer flood wait than this is not sat out for a reply


class Messenger:
    """Sends to one chat through the adapter of its platform, in the pacer's priority lane.

    For what concerns one person at a time (a reply, a live progress message); anything
    for many chats goes through the outbox. A person is waiting, so each call waits at
    most one pacing slot even during a large fan-out, and a call the platform asks to
    wait (RateLimited) is made again after the wait instead of being dropped.
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
        adapter = self._adapter(chat.platform)
        return await _urgently(
            adapter, lambda: adapter.send(chat, post, key=key, reply_to=reply_to)
        )

    async def edit(self, sent: SentRef, post: Post, *, key: str) -> SentRef:
        adapter = self._adapter(sent.chat.platform)
        return await _urgently(adapter, lambda: adapter.edit(sent, post, key=key))


async def _urgently(adapter: ChatAdapter, call: Callable[[], Awaitable[SentRef]]) -> SentRef:
    attempt = 1
    with urgent():
        while True:
            try:
                return await call()
            except RateLimited as exc:
                if attempt >= ATTEMPTS or exc.retry_after > LONGEST_WAIT:
                    raise
                attempt += 1
                # The whole platform waits (the pacer holds every call until then).
                adapter.pacing.pacer.pause(exc.retry_after)
                log.info("%s asked a reply to wait %.1fs", adapter.platform, exc.retry_after)
