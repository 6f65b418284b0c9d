"""Subscriber data rights: show a person everything kept about them, and erase it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.audit import actor_of
from bot.chat import ChatKind, Incoming
from bot.storage import Database
from bot.storage import privacy as pq
from bot.storage.privacy import PersonalRecords

__all__ = ["PersonalRecords", "Privacy"]


def _ids(incoming: Incoming) -> list[str]:
    """Their user id, and their private chat with the bot (the same on some platforms)."""
    ids = {incoming.sender.id}
    if incoming.chat.kind is ChatKind.PRIVATE:
        ids.add(incoming.chat.id)
    return sorted(ids)


@dataclass
class Privacy:
    db: Database

    async def records(self, incoming: Incoming) -> PersonalRecords:
        return await pq.records_of(
            self.db, incoming.platform, _ids(incoming), actor_of(incoming.sender)
        )

    async def forget(self, incoming: Incoming) -> None:
        await pq.erase(self.db, incoming.platform, _ids(incoming), actor_of(incoming.sender))
