"""Typed queries for what the bot keeps about one person, and for erasing it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.storage import ledger as lq
from bot.storage import people
from bot.storage.db import Database


@dataclass(frozen=True, slots=True)
class PersonalRecords:
    subscriptions: list[tuple[str, tuple[str, ...], bool]]  # chat id, topics, active
    deliveries: dict[str, int]  # state -> count of messages to their chats
    audit_entries: int
    announcements: int
    thank_links: int  # pending "tell me when my donation arrives" links
    language: str | None = None  # their /language choice


def _marks(values: list[str]) -> str:
    return ",".join("?" for _ in values)


async def records_of(
    db: Database, platform: str, chat_ids: list[str], actor: str
) -> PersonalRecords:
    marks = _marks(chat_ids)
    subs = await db.fetch_all(
        f"SELECT chat_id, topics, active FROM subscribers "  # noqa: S608
        f"WHERE platform = ? AND chat_id IN ({marks})",
        (platform, *chat_ids),
    )
    deliveries = await db.fetch_all(
        f"SELECT state, COUNT(*) FROM deliveries "  # noqa: S608
        f"WHERE platform = ? AND chat_id IN ({marks}) GROUP BY state",
        (platform, *chat_ids),
    )
    audit = await db.fetch_one("SELECT COUNT(*) FROM audit_log WHERE actor = ?", (actor,))
    authored = await db.fetch_one("SELECT COUNT(*) FROM announcements WHERE author = ?", (actor,))
    return PersonalRecords(
        subscriptions=[(r[0], tuple(json.loads(r[1])), bool(r[2])) for r in subs],
        deliveries={str(r[0]): int(r[1]) for r in deliveries},
        audit_entries=int(audit[0]) if audit else 0,
        announcements=int(authored[0]) if authored else 0,
        thank_links=await lq.thank_links_of(db, platform, chat_ids),
        language=await people.language_of(db, platform, chat_ids),
    )


async def erase(db: Database, platform: str, chat_ids: list[str], actor: str) -> None:
    """Delete their subscriptions and delivery records; keep admin accountability anonymous."""
    marks = _marks(chat_ids)
    async with db.transaction() as conn:
        await conn.execute(
            f"DELETE FROM subscribers WHERE platform = ? AND chat_id IN ({marks})",  # noqa: S608
            (platform, *chat_ids),
        )
        await conn.execute(
            f"DELETE FROM deliveries WHERE platform = ? AND chat_id IN ({marks})",  # noqa: S608
            (platform, *chat_ids),
        )
        await conn.execute(
            "UPDATE audit_log SET actor = 'forgotten user' WHERE actor = ?", (actor,)
        )
        await lq.forget_thank_links(conn, platform, chat_ids)
        await people.forget(conn, platform, chat_ids)
        await conn.execute(
            "UPDATE announcements SET author = 'forgotten user', report_chat = NULL, "
            "report_message = NULL WHERE author = ?",
            (actor,),
        )
