"""The PostgreSQL backend: an asyncpg pool, transactions, placeholders and migrations.

Everything PostgreSQL-specific stays here: `?` placeholders become `$1, $2, …`; the schema
version lives in the `schema_version` table; migrations come from `migrations/postgres/`
(the same numbers as SQLite's). A transaction first takes one transaction-level advisory
lock, so writers across every instance run one at a time, as `BEGIN IMMEDIATE` makes them
on SQLite: a service's read-then-write (a milestone checked, then recorded) means the same
on both backends. Single statements outside a transaction take no such lock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import asyncpg

from bot.storage.db import (
    DatabaseTooNew,
    MigrationError,
    Params,
    Row,
    StorageUnavailable,
    Tx,
    bundled_migrations,
    run_after_commit,
)
from bot.storage.opener import without_password

log = logging.getLogger(__name__)

# Advisory lock keys (one 64-bit key space per database): writers, migrations.
WRITE_LOCK = 0x6F75_7472_0001
MIGRATE_LOCK = 0x6F75_7472_0002

# A quoted string, a quoted identifier, a comment, or a `?` placeholder.
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|\?")
_COUNT = re.compile(r"(\d+)$")


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """`sql` with each `?` placeholder (outside quotes and comments) as `$1, $2, …`."""
    n = 0

    def number(match: re.Match[str]) -> str:
        nonlocal n
        if match.group(0) != "?":
            return match.group(0)
        n += 1
        return f"${n}"

    return _TOKEN.sub(number, sql)


def _changed(status: str) -> int:
    """Rows changed, from a command status such as `UPDATE 3` or `INSERT 0 1`."""
    match = _COUNT.search(status)
    return int(match.group(1)) if match else 0


Connection = Any  # asyncpg.Connection or its pool proxy: asyncpg ships no type hints


class _On:
    """The `Executor` methods over one connection (or the pool, which lends one per call)."""

    dialect = "postgres"

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = await self._conn.fetchrow(translate(sql), *params)
        return row

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        rows: list[Row] = await self._conn.fetch(translate(sql), *params)
        return rows

    async def execute(self, sql: str, params: Params = ()) -> int:
        return _changed(await self._conn.execute(translate(sql), *params))

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        batch = [tuple(r) for r in rows]
        if batch:
            await self._conn.executemany(translate(sql), batch)


class PostgresTx(_On):
    """An open transaction on a connection of the pool (see `Tx`)."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.after_commit_callbacks: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        self.after_commit_callbacks.append(callback)


POOL_PREFIX = "outreach-bot-pool:"  # application_name of an instance's pooled connections


class PostgresDatabase(_On):
    """A pool of asyncpg connections to one PostgreSQL database (see `Database`)."""

    def __init__(self, pool: asyncpg.Pool, url: str, password: str | None) -> None:
        super().__init__(pool)
        self.pool = pool
        self.url = url
        self.password = password

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        password: str | None = None,
        max_size: int = 10,
        instance: str | None = None,
    ) -> PostgresDatabase:
        """Connect to `url`; `password` (else libpq's PGPASSWORD, ~/.pgpass) if it needs one.

        With `instance`, the pool's connections carry its name (`POOL_PREFIX`), so other
        instances can tell it is still connected (`bot.storage.roles.still_connected`).
        """
        settings = {"application_name": (POOL_PREFIX + instance)[:63]} if instance else None
        try:
            pool = await asyncpg.create_pool(
                url,
                password=password,
                min_size=1,
                max_size=max_size,
                command_timeout=60,
                server_settings=settings,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StorageUnavailable(
                f"cannot reach the database {without_password(url)}: {exc}"
            ) from exc
        return cls(pool, url, password)

    async def connect(self, **settings: Any) -> Connection:
        """A connection of its own, outside the pool (advisory locks, LISTEN)."""
        return await asyncpg.connect(self.url, password=self.password, **settings)

    async def close(self) -> None:
        await self.pool.close()

    def __str__(self) -> str:
        return without_password(self.url)

    async def version(self) -> int:
        async with self.pool.acquire() as conn:
            return await _version(conn)

    async def migrate(self, migrations: list[tuple[int, str, str]] | None = None) -> int:
        """Apply every pending migration, each in its own transaction; return the version.

        Instances starting together migrate one at a time (an advisory lock).
        Raises DatabaseTooNew when the database is ahead of this code.
        """
        migrations = bundled_migrations("migrations/postgres") if migrations is None else migrations
        latest = migrations[-1][0] if migrations else 0
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATE_LOCK)
            try:
                return await self._migrate_locked(conn, migrations, latest)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATE_LOCK)

    async def _migrate_locked(
        self, conn: Connection, migrations: list[tuple[int, str, str]], latest: int
    ) -> int:
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        current = await _version(conn)
        DatabaseTooNew.check(self, current, latest)
        for version, name, sql in migrations:
            if version <= current:
                continue
            try:
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("DELETE FROM schema_version")
                    await conn.execute("INSERT INTO schema_version VALUES ($1)", version)
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"migration {name} failed: {exc}") from exc
            log.info("applied migration %s", name)
            current = version
        return current

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """BEGIN … COMMIT (or ROLLBACK on error) on one pooled connection, one writer at a
        time across every instance; after-commit callbacks run once it has committed."""
        async with self.pool.acquire() as conn:
            tx = PostgresTx(conn)
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
                yield tx
        run_after_commit(tx.after_commit_callbacks)


async def close_connection(conn: Connection) -> None:
    """Close a connection of its own (not the pool's), or drop it when it will not close."""
    try:
        await conn.close(timeout=2)
    except Exception:
        conn.terminate()


async def _version(conn: Connection) -> int:
    if await conn.fetchval("SELECT to_regclass('schema_version')") is None:
        return 0
    value = await conn.fetchval("SELECT max(version) FROM schema_version")
    return int(value or 0)


@asynccontextmanager
async def open_postgres(
    url: str, *, password: str | None = None, migrate: bool = True, instance: str | None = None
) -> AsyncIterator[PostgresDatabase]:
    """Open (and by default migrate) the PostgreSQL database at `url`, closing it on exit."""
    db = await PostgresDatabase.open(url, password=password, instance=instance)
    try:
        if migrate:
            await db.migrate()
        yield db
    finally:
        await db.close()
