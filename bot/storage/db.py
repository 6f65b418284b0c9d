"""The SQLite connection, its settings and the migration runner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class DatabaseTooNew(Exception):
    """The database was written by a newer version of the bot."""


class MigrationError(Exception):
    """A migration failed; the database was left at the last good version."""


def bundled_migrations() -> list[tuple[int, str, str]]:
    """The migrations shipped with the package as (version, file name, SQL), in order."""
    found: list[tuple[int, str, str]] = []
    folder = resources.files("bot.storage") / "migrations"
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration files are not numbered 1..n without gaps: {versions}")
    return found


class Database:
    """One aiosqlite connection shared by the whole bot.

    Writes go through `transaction()`, which serialises them with a lock so
    that concurrent tasks never interleave statements inside one transaction.
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves.
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed ledger row or outbox state survives power loss.
        await conn.execute("PRAGMA synchronous=FULL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        return cls(conn, path)

    async def close(self) -> None:
        await self.conn.close()

    async def version(self) -> int:
        row = await self.fetch_one("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def migrate(self, migrations: list[tuple[int, str, str]] | None = None) -> int:
        """Apply every pending migration, each in its own transaction; return the version.

        Raises DatabaseTooNew when the database is ahead of this code.
        """
        migrations = bundled_migrations() if migrations is None else migrations
        latest = migrations[-1][0] if migrations else 0
        current = await self.version()
        if current > latest:
            raise DatabaseTooNew(
                f"{self.path}: database schema version {current} is newer than this "
                f"outreach-bot supports ({latest}); upgrade outreach-bot or use another database"
            )
        for version, name, sql in migrations:
            if version <= current:
                continue
            async with self._write_lock:
                try:
                    # executescript runs our BEGIN ... COMMIT as written, so the
                    # schema change and the version bump commit together or not at all.
                    await self.conn.executescript(
                        f"BEGIN IMMEDIATE;\n{sql}\n;PRAGMA user_version = {version};\nCOMMIT;"
                    )
                except Exception as exc:
                    if self.conn.in_transaction:
                        await self.conn.execute("ROLLBACK")
                    raise MigrationError(f"migration {name} failed: {exc}") from exc
            log.info("applied migration %s", name)
            current = version
        return current

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK on error), one writer at a time."""
        async with self._write_lock:
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
                yield self.conn
                await self.conn.execute("COMMIT")
            except BaseException:
                await self._rollback()
                raise

    async def _rollback(self) -> None:
        """Roll back what is open, before the write lock is released, even when cancelled.

        A statement whose await was cancelled still runs on aiosqlite's thread: a
        cancelled BEGIN opens a transaction all the same, and left open it would put
        every later writer of this shared connection inside it (or fail their BEGIN).
        """
        rollback = asyncio.ensure_future(self._rollback_if_open())
        cancelled = False
        while not rollback.done():
            try:
                await asyncio.shield(rollback)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError
        rollback.result()

    async def _rollback_if_open(self) -> None:
        # OperationalError: no transaction was open (BEGIN failed, or COMMIT went through).
        with contextlib.suppress(sqlite3.OperationalError):
            await self.conn.execute("ROLLBACK")

    # Reads take one trip to aiosqlite's thread (execute_fetchall) instead of three
    # (execute, fetch, close): each trip is a thread hand-off and an event-loop wake-up.

    async def fetch_one(self, sql: str, params: tuple[Any, ...] = ()) -> aiosqlite.Row | None:
        """The first row of a query that returns at most a few rows (or None)."""
        rows = await self.conn.execute_fetchall(sql, params)
        for row in rows:
            found: aiosqlite.Row = row
            return found
        return None

    async def fetch_all(self, sql: str, params: tuple[Any, ...] = ()) -> list[aiosqlite.Row]:
        return list(await self.conn.execute_fetchall(sql, params))

    async def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one write statement in its own transaction; return the rows it changed.

        Outside BEGIN ... COMMIT a single statement is its own (autocommit)
        transaction, durable when it returns; the write lock keeps it out of
        another task's open transaction. Two trips to the database thread, not four.
        """
        async with self._write_lock, self.conn.execute(sql, params) as cur:
            return cur.rowcount


@asynccontextmanager
async def open_database(path: Path, *, migrate: bool = True) -> AsyncIterator[Database]:
    """Open (and by default migrate) the database, closing it on exit."""
    db = await Database.open(path)
    try:
        if migrate:
            await db.migrate()
        yield db
    finally:
        await db.close()
