"""Typed queries for thank-you links: the one-time links a donor's payment carries back
to the chat that asked, so the bot can thank the right person (see `thank_token`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.storage.db import Database, Executor, Tx, marks
from bot.storage.ledger import hour


@dataclass(frozen=True, slots=True)
class ThankLink:
    platform: str
    chat_id: str
    chat_kind: str
    language: str = ""  # the donor's language when they asked ("": the bot's default)


async def thank_token(
    db: Database,
    *,
    request_key: str,
    new_token: str,
    link: ThankLink,
    now: float,
    expire_before: float,
) -> str:
    """The token for a link request: `new_token` the first time, the stored one after."""
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM thank_links WHERE created_at < ?", (expire_before,))
        await tx.execute(
            "INSERT INTO thank_links (token, request_key, platform, chat_id, chat_kind, "
            "language, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (request_key) DO NOTHING",
            (
                new_token,
                request_key,
                link.platform,
                link.chat_id,
                link.chat_kind,
                link.language,
                hour(now),
            ),
        )
        row = await tx.fetch_one(
            "SELECT token FROM thank_links WHERE request_key = ?", (request_key,)
        )
    assert row is not None
    return str(row["token"])


async def take_thank_link(tx: Tx, token: str) -> ThankLink | None:
    """Remove and return the chat a token points to; call inside a transaction."""
    row = await tx.fetch_one(
        "SELECT platform, chat_id, chat_kind, language FROM thank_links WHERE token = ?",
        (token,),
    )
    if row is None:
        return None
    await tx.execute("DELETE FROM thank_links WHERE token = ?", (token,))
    return ThankLink(
        str(row["platform"]), str(row["chat_id"]), str(row["chat_kind"]), str(row["language"])
    )


async def thank_link_count(db: Executor) -> int:
    row = await db.fetch_one("SELECT COUNT(*) AS n FROM thank_links")
    return int(row["n"]) if row else 0


async def thank_links_of(db: Executor, platform: str, chat_ids: Sequence[str]) -> int:
    """How many pending "tell me when it arrives" links point at these chats (/mydata)."""
    row = await db.fetch_one(
        f"SELECT COUNT(*) AS n FROM thank_links "  # noqa: S608
        f"WHERE platform = ? AND chat_id IN ({marks(chat_ids)})",
        (platform, *chat_ids),
    )
    return int(row["n"]) if row else 0


async def forget_thank_links(tx: Tx, platform: str, chat_ids: Sequence[str]) -> None:
    """Delete the links to these chats (/forgetme); call inside a transaction."""
    await tx.execute(
        f"DELETE FROM thank_links WHERE platform = ? AND chat_id IN ({marks(chat_ids)})",  # noqa: S608
        (platform, *chat_ids),
    )
