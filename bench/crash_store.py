"""Where `bench/crash.py` reads the bot's delivery rows: its SQLite file, or PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.memory import BotProcess
from bot.storage import feeds as fq
from bot.storage import open_database
from bot.storage.postgres import PostgresDatabase, open_postgres

MATRIX_PASSWORD_ENV = "MATRIX_PASSWORD"


@dataclass
class Row:
    id: int
    platform: str
    chat_id: str
    state: str


class Store(Protocol):
    def config(self, folder: Path) -> dict[str, dict[str, Any]]:
        """The config sections that put the bot on this storage."""
        ...

    async def subscribe(self, platform: str, chat_ids: Iterable[str]) -> int: ...

    async def rows(self, after: int) -> list[Row]: ...

    async def last_id(self) -> int: ...

    async def aclose(self) -> None: ...


_ROWS = "SELECT id, platform, chat_id, state FROM deliveries WHERE id > ? ORDER BY id"


class SqliteStore:
    """The bot's SQLite file, read through its own read-only connections."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def config(self, folder: Path) -> dict[str, dict[str, Any]]:
        return {"storage": {"path": str(self.path)}}

    async def subscribe(self, platform: str, chat_ids: Iterable[str]) -> int:
        count = 0
        async with open_database(self.path) as db:
            for chat_id in chat_ids:
                await fq.save_subscriber(db, platform, chat_id, [], time.time())
                count += 1
        return count

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    async def rows(self, after: int) -> list[Row]:
        found = self._read(_ROWS, (after,))
        return [Row(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in found]

    async def last_id(self) -> int:
        return int(self._read("SELECT COALESCE(MAX(id), 0) FROM deliveries", ())[0][0])

    async def aclose(self) -> None:
        return None


class PostgresStore:
    """A PostgreSQL database; the bot runs as one named instance on it (the same name after
    each restart: the same Matrix device, logged in with the password)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._db: PostgresDatabase | None = None

    def config(self, folder: Path) -> dict[str, dict[str, Any]]:
        return {
            "storage": {"url": self.url, "path": str(folder / "unused.sqlite3")},
            "instance": {"name": "crash"},
        }

    async def _open(self) -> PostgresDatabase:
        if self._db is None:
            async with open_postgres(self.url):
                pass  # migrated before the first subscriber is written
            self._db = await PostgresDatabase.open(self.url)
        return self._db

    async def subscribe(self, platform: str, chat_ids: Iterable[str]) -> int:
        db = await self._open()
        count = 0
        for chat_id in chat_ids:
            await fq.save_subscriber(db, platform, chat_id, [], time.time())
            count += 1
        return count

    async def rows(self, after: int) -> list[Row]:
        db = await self._open()
        found = await db.fetch_all(_ROWS, (after,))
        return [Row(int(r["id"]), r["platform"], r["chat_id"], r["state"]) for r in found]

    async def last_id(self) -> int:
        row = await (await self._open()).fetch_one(
            "SELECT COALESCE(MAX(id), 0) AS n FROM deliveries"
        )
        return 0 if row is None else int(row["n"])

    async def aclose(self) -> None:
        if self._db is not None:
            await self._db.close()


async def wait_until(
    check: Callable[[], Awaitable[bool]],
    bot: BotProcess,
    limit: float,
    what: str,
    interval: float = 0.5,
) -> None:
    """`bench.memory.wait_for` for a check that queries the database."""
    deadline = time.monotonic() + limit
    while not await check():
        if not bot.running():
            raise RuntimeError(f"the bot exited ({bot.process.returncode}) {what}:\n{bot.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {limit:.0f}s {what}:\n{bot.tail()}")
        await asyncio.sleep(interval)
