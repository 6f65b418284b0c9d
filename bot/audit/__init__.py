"""The audit log: every admin action and refused attempt, who, what, when, result."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.chat import Sender
from bot.storage import Database
from bot.storage import announcements as aq
from bot.storage.announcements import AuditEntry

__all__ = ["AuditEntry", "AuditLog", "actor_of"]


def actor_of(sender: Sender) -> str:
    return f"{sender.platform}:{sender.id}"


@dataclass
class AuditLog:
    db: Database
    clock: Callable[[], float] = field(default=time.time)

    async def record(self, actor: str, action: str, detail: str, result: str) -> None:
        await aq.audit(
            self.db, at=self.clock(), actor=actor, action=action, detail=detail, result=result
        )

    async def latest(self, limit: int) -> list[AuditEntry]:
        return await aq.audit_entries(self.db, limit)
