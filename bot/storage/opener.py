"""Which backend a configuration names, and opening it: PostgreSQL for a `url`, else SQLite."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.storage.db import Database


def without_password(url: str) -> str:
    """`url` without a password written in it (for messages and logs)."""
    return re.sub(r"://([^:@/]+):[^@/]*@", r"://\1:***@", url)


@dataclass(frozen=True, slots=True)
class StorageTarget:
    """Where the bot keeps its data: a PostgreSQL `url` when given, else the SQLite `path`."""

    path: Path
    url: str | None = None
    password: str | None = None  # None: libpq's usual sources (PGPASSWORD, ~/.pgpass)
    instance: str | None = None  # names this instance's PostgreSQL connections

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    def describe(self) -> str:
        """Where it is, for a message (never with a password)."""
        return str(self.path) if self.url is None else without_password(self.url)


@asynccontextmanager
async def open_storage(target: StorageTarget, *, migrate: bool = True) -> AsyncIterator[Database]:
    """Open (and by default migrate) the configured database, closing it on exit."""
    if target.url is not None:
        # Imported here: a SQLite install never loads the PostgreSQL driver.
        from bot.storage.postgres import open_postgres  # noqa: PLC0415

        async with open_postgres(
            target.url, password=target.password, migrate=migrate, instance=target.instance
        ) as pg:
            yield pg
    else:
        from bot.storage.sqlite import open_database  # noqa: PLC0415

        async with open_database(target.path, migrate=migrate) as lite:
            yield lite
