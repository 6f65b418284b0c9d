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


_CROWD = 2000  # more ids than this are looked up in one read of the platform's choices


async def languages(db: Executor, platform: str, user_ids: Sequence[str]) -> dict[str, str]:
    """The chosen language of each of these ids that chose one (a fan-out's readers)."""
    chosen: dict[str, str] = {}
    if len(user_ids) > _CROWD:
        # A fan-out's crowd: every choice on the platform in one read (people who chose
        # are a part of those who read), kept for the ids asked about.
        rows = await db.fetch_all(
            "SELECT user_id, language FROM people WHERE platform = ?", (platform,)
        )
        wanted = set(user_ids)
        return {str(r["user_id"]): str(r["language"]) for r in rows if r["user_id"] in wanted}
    for start in range(0, len(user_ids), 500):  # SQLite caps the parameters of one query
        batch = user_ids[start : start + 500]
        rows = await db.fetch_all(
            f"SELECT user_id, language FROM people WHERE platform = ? "  # noqa: S608
            f"AND user_id IN ({marks(batch)})",
            (platform, *batch),
        )
        chosen.update({str(r["user_id"]): str(r["language"]) for r in rows})
    return chosen


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
