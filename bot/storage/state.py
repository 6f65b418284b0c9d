"""Typed queries for the bot_state key/value table."""

from __future__ import annotations

from bot.storage.db import Database, Executor


async def get_state(db: Executor, key: str) -> str | None:
    row = await db.fetch_one("SELECT value FROM bot_state WHERE key = ?", (key,))
    return None if row is None else str(row["value"])


async def set_state(db: Executor, key: str, value: str) -> None:
    await db.execute(
        "INSERT INTO bot_state (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


class DatabaseStateStore:
    """The `StateStore` adapters use, namespaced by a prefix (e.g. "matrix.")."""

    def __init__(self, db: Database, prefix: str) -> None:
        self.db = db
        self.prefix = prefix

    async def get(self, key: str) -> str | None:
        return await get_state(self.db, self.prefix + key)

    async def set(self, key: str, value: str) -> None:
        await set_state(self.db, self.prefix + key, value)
