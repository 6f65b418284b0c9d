"""Private article subscriptions, optionally narrowed to topics."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.storage import Database
from bot.storage import feeds as fq


@dataclass
class Subscriptions:
    """Who gets articles privately, and on which topics (none: everything)."""

    db: Database
    topics: list[str]  # every topic the feeds map categories to
    clock: Callable[[], float] = field(default=time.time)

    async def topics_of(self, platform: str, chat_id: str) -> tuple[str, ...] | None:
        """The chat's topics (empty: every article), or None when not subscribed."""
        sub = await fq.get_subscriber(self.db, platform, chat_id)
        return None if sub is None else sub.topics

    async def save(self, platform: str, chat_id: str, topics: list[str]) -> None:
        await fq.save_subscriber(self.db, platform, chat_id, topics, self.clock())

    async def remove(self, platform: str, chat_id: str) -> bool:
        return await fq.remove_subscriber(self.db, platform, chat_id)
