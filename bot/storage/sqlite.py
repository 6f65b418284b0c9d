"""The SQLite backend: one aiosqlite connection, its settings, transactions and migrations.

Everything SQLite-specific stays here: the PRAGMAs, `BEGIN IMMEDIATE`, `executescript`,
the schema version in `PRAGMA user_version`, and the one-trip reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from bot.storage.db import (
    DatabaseTooNew,
    MigrationError,
    Params,
    Row,
    Tx,
    bundled_migrations,
    run_after_commit,
)

log = logging.getLogger(__name__)


async def _fetch_all(conn: aiosqlite.Connection, sql: str, params: Params) -> list[Row]:
    # One trip to aiosqlite's thread (execute_fetchall) instead of three (execute, fetch,
    # close): each trip is a thread hand-off and an event-loop wake-up.
    rows: list[Row] = list(await conn.execute_fetchall(sql, params))
    return rows


class SqliteTx:
    """An open `BEGIN IMMEDIATE` transaction on the shared connection (see `Tx`)."""

    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self.after_commit_callbacks: list[Callable[[], None]] = []

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        rows = await _fetch_all(self._conn, sql, params)
        return rows[0] if rows else None

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return await _fetch_all(self._conn, sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        # One trip: the cursor is left to the garbage collector instead of closed by a second.
        cur = await self._conn.execute(sql, params)
        return cur.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._conn.executemany(sql, rows)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self.after_commit_callbacks.append(callback)


class SqliteDatabase:
    """One aiosqlite connection shared by the whole bot (see `Database`).

    Writes go through `transaction()` or `execute()`, which serialise them with a lock
    so that concurrent tasks never interleave statements inside one transaction.
    """

    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> SqliteDatabase:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves.
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed ledger row or outbox state survives power loss.
        await conn.execute("PRAGMA synchronous=FULL")
        await conn.execute("PRAGMA foreign_keys=ON")
        # Deleted content is overwritten with zeros, so a forgotten thank-you link (a donor's
        # chat) does not linger in the file's free pages for a seized copy to read back.
        await conn.execute("PRAGMA secure_delete=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        return cls(conn, path)

    async def close(self) -> None:
        await self._conn.close()

    async def version(self) -> int:
        row = await self.fetch_one("PRAGMA user_version")
        return int(row["user_version"]) if row else 0

    async def migrate(self, migrations: list[tuple[int, str, str]] | None = None) -> int:
        """Apply every pending migration, each in its own transaction; return the version.

        Raises DatabaseTooNew when the database is ahead of this code.
        """
        migrations = bundled_migrations() if migrations is None else migrations
        latest = migrations[-1][0] if migrations else 0
        current = await self.version()
        DatabaseTooNew.check(self.path, current, latest)
        for version, name, sql in migrations:
            if version <= current:
                continue
            async with self._write_lock:
                try:
                    # executescript runs our BEGIN ... COMMIT as written, so the
                    # schema change and the version bump commit together or not at all.
                    await self._conn.executescript(
                        f"BEGIN IMMEDIATE;\n{sql}\n;PRAGMA user_version = {version};\nCOMMIT;"
                    )
                except Exception as exc:
                    if self._conn.in_transaction:
                        await self._conn.execute("ROLLBACK")
                    raise MigrationError(f"migration {name} failed: {exc}") from exc
            log.info("applied migration %s", name)
            current = version
        return current

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK on error), one writer at a time;
        the transaction's after-commit callbacks run once the write lock is released."""
        tx = SqliteTx(self._conn)
        async with self._write_lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                yield tx
                await self._conn.execute("COMMIT")
            except BaseException:
                await self._rollback()
                raise
        run_after_commit(tx.after_commit_callbacks)

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
            await self._conn.execute("ROLLBACK")

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        rows = await _fetch_all(self._conn, sql, params)
        return rows[0] if rows else None

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return await _fetch_all(self._conn, sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement in its own transaction; return the rows it changed.

        Outside BEGIN ... COMMIT a single statement is its own (autocommit)
        transaction, durable when it returns; the write lock keeps it out of
        another task's open transaction. Two trips to the database thread, not four.
        """
        async with self._write_lock, self._conn.execute(sql, params) as cur:
            return cur.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run a statement per parameter row, all in one transaction."""
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)


@asynccontextmanager
async def open_database(path: Path, *, migrate: bool = True) -> AsyncIterator[SqliteDatabase]:
    """Open (and by default migrate) the SQLite database at `path`, closing it on exit."""
    db = await SqliteDatabase.open(path)
    try:
        if migrate:
            await db.migrate()
        yield db
    finally:
        await db.close()
