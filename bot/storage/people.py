"""Typed queries for what a person chose for themselves: today, their language."""

from __future__ import annotations

from collections.abc import Sequence

from bot.storage.db import Executor, Tx, marks


async def get_language(db: Executor, platform: str, user_id: str) -> str | None:
    """The language code this person chose with /language, or None if they chose none."""
    return await language_of(db, platform, [user_id])


async def language_of(db: Executor, platform: str, user_ids: Sequence[str]) -> str | None:
    """The language chosen under any of one person's ids (their user id, their DM) (/mydata)."""
    row = await db.fetch_one(
        f"SELECT language FROM people WHERE platform = ? AND user_id IN ({marks(user_ids)}) "  # noqa: S608
        "ORDER BY user_id LIMIT 1",
        (platform, *user_ids),
    )
    return None if row is None else str(row["language"])


async def set_language(db: Executor, platform: str, user_id: str, language: str | None) -> None:
    """Keep this person's choice; None forgets it (back to what their app tells)."""
    if language is None:
        await db.execute(
            "DELETE FROM people WHERE platform = ? AND user_id = ?", (platform, user_id)
        )
        return
    await db.execute(
        "INSERT INTO people (platform, user_id, language) VALUES (?, ?, ?) "
        "ON CONFLICT (platform, user_id) DO UPDATE SET language = excluded.language",
        (platform, user_id, language),
    )


async def forget(tx: Tx, platform: str, user_ids: Sequence[str]) -> None:
    """Delete what these ids chose (/forgetme); part of the caller's transaction."""
    await tx.execute(
        f"DELETE FROM people WHERE platform = ? AND user_id IN ({marks(user_ids)})",  # noqa: S608
        (platform, *user_ids),
    )
