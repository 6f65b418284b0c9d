"""The storage seam: what services and query functions may rely on, whatever the backend.

Services hold a `Database` and open transactions with `async with db.transaction() as tx:`;
they pass the `Tx` on to the query functions of `bot/storage/` and never see a
connection. Query functions read rows by column name (`row["id"]`) into typed records.

A backend is one module that provides these (`bot.storage.sqlite`,
`bot.storage.postgres`). Query text is written once, with `?`
placeholders and, where they differ, in the SQL both SQLite and PostgreSQL accept
(`RETURNING`, `ON CONFLICT`); a backend translates placeholders into its own style.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence, Sized
from contextlib import AbstractAsyncContextManager
from importlib import resources
from typing import Any, Protocol

Params = Sequence[Any]
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


log = logging.getLogger(__name__)


def run_after_commit(callbacks: Iterable[Callable[[], None]]) -> None:
    """Run a committed transaction's callbacks; one that fails is logged, the rest still run."""
    for callback in callbacks:
        try:
            callback()
        except Exception:
            # Committed all the same: the caller must not think its writes were lost.
            log.exception("an after-commit callback failed")


class DatabaseTooNew(Exception):
    """The database was written by a newer version of the bot."""

    @classmethod
    def check(cls, database: object, current: int, latest: int) -> None:
        """Raise when the schema `current` is ahead of the `latest` migration this code has."""
        if current > latest:
            raise cls(
                f"{database}: database schema version {current} is newer than this "
                f"outreach-bot supports ({latest}); upgrade outreach-bot or use another database"
            )


class StorageUnavailable(Exception):
    """The database cannot be reached (down, wrong address, refused credentials)."""


class MigrationError(Exception):
    """A migration failed; the database was left at the last good version."""


class Row(Protocol):
    """A result row, read by column name (`row["state"]`): name every computed column."""

    def __getitem__(self, column: str, /) -> Any: ...


class Executor(Protocol):
    """Something SQL runs on: the database itself, or an open transaction.

    `dialect` ("sqlite" or "postgres") lets the few queries that differ (full-text
    search) pick their own text.
    """

    dialect: str

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query that returns at most a few rows (or None)."""
        ...

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of a query (also of a write with `RETURNING`)."""
        ...

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement; return how many rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one write statement once per parameter row."""
        ...


class Tx(Executor, Protocol):
    """An open transaction: everything run on it commits together or not at all."""

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the transaction has committed (never if it rolls back)."""
        ...


class Database(Executor, Protocol):
    """The bot's database. Outside `transaction()` each write is its own transaction."""

    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """One writer at a time: commit when the block ends, roll back when it raises."""
        ...

    async def version(self) -> int:
        """The schema version the database is at."""
        ...

    async def migrate(self, migrations: list[tuple[int, str, str]] | None = None) -> int:
        """Apply every pending migration; return the version (DatabaseTooNew when ahead)."""
        ...

    async def close(self) -> None: ...


def marks(values: Sized) -> str:
    """Placeholders for an `IN (...)` list of `values` (`''` when empty: matches nothing)."""
    return ",".join("?" * len(values)) or "''"


def bundled_migrations(folder: str = "migrations") -> list[tuple[int, str, str]]:
    """The migrations shipped with the package as (version, file name, SQL), in order."""
    found: list[tuple[int, str, str]] = []
    for entry in (resources.files("bot.storage") / folder).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration files are not numbered 1..n without gaps: {versions}")
    return found
