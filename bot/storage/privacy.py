"""Typed queries for what the bot keeps about one person, and for erasing it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.storage import people
from bot.storage import thanks as tq
from bot.storage.db import Database, Executor, marks


@dataclass(frozen=True, slots=True)
class PersonalRecords:
    subscriptions: list[tuple[str, tuple[str, ...], bool]]  # chat id, topics, active
    deliveries: dict[str, int]  # state -> count of messages to their chats
    audit_entries: int
    announcements: int
    thank_links: int  # pending "tell me when my donation arrives" links
    language: str | None = None  # their /language choice


async def records_of(
    db: Executor, platform: str, chat_ids: list[str], actor: str
) -> PersonalRecords:
    chats = marks(chat_ids)
    subs = await db.fetch_all(
        f"SELECT chat_id, topics, active FROM subscribers "  # noqa: S608
        f"WHERE platform = ? AND chat_id IN ({chats})",
        (platform, *chat_ids),
    )
    deliveries = await db.fetch_all(
        f"SELECT state, COUNT(*) AS n FROM deliveries "  # noqa: S608
        f"WHERE platform = ? AND chat_id IN ({chats}) GROUP BY state",
        (platform, *chat_ids),
    )
    audit = await db.fetch_one("SELECT COUNT(*) AS n FROM audit_log WHERE actor = ?", (actor,))
    authored = await db.fetch_one(
        "SELECT COUNT(*) AS n FROM announcements WHERE author = ?", (actor,)
    )
    return PersonalRecords(
        subscriptions=[
            (str(r["chat_id"]), tuple(json.loads(r["topics"])), bool(r["active"])) for r in subs
        ],
        deliveries={str(r["state"]): int(r["n"]) for r in deliveries},
        audit_entries=int(audit["n"]) if audit else 0,
        announcements=int(authored["n"]) if authored else 0,
        thank_links=await tq.thank_links_of(db, platform, chat_ids),
        language=await people.language_of(db, platform, chat_ids),
    )


async def erase(db: Database, platform: str, chat_ids: list[str], actor: str) -> None:
    """Delete their subscriptions and delivery records; keep admin accountability anonymous."""
    chats = marks(chat_ids)
    async with db.transaction() as tx:
        await tx.execute(
            f"DELETE FROM subscribers WHERE platform = ? AND chat_id IN ({chats})",  # noqa: S608
            (platform, *chat_ids),
        )
        await tx.execute(
            f"DELETE FROM deliveries WHERE platform = ? AND chat_id IN ({chats})",  # noqa: S608
            (platform, *chat_ids),
        )
        await tx.execute("UPDATE audit_log SET actor = 'forgotten user' WHERE actor = ?", (actor,))
        await tq.forget_thank_links(tx, platform, chat_ids)
        await people.forget(tx, platform, chat_ids)
        await tx.execute(
            "UPDATE announcements SET author = 'forgotten user', report_chat = NULL, "
            "report_message = NULL WHERE author = ?",
            (actor,),
        )
