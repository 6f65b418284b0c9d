"""Roles across instances on PostgreSQL: session advisory locks on a dedicated connection.

A role (the Telegram sender, the feed poller, …) is held by the instance whose connection
holds its advisory lock. PostgreSQL releases a session lock the moment its connection
ends, so a dead instance's roles are free at once. The connection's `application_name`
names the instance, which is how `outreach-bot status` lists who holds what.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from bot.storage.db import Params, Row, StorageUnavailable, Tx
from bot.storage.postgres import POOL_PREFIX, PostgresDatabase, close_connection

log = logging.getLogger(__name__)

ROLE_SPACE = 0x6F75  # the first key of every role lock ("ou")
APP_PREFIX = "outreach-bot:"
PING_TIMEOUT = 5.0  # how long `alive` waits for the lock connection to answer


def role_key(role: str) -> int:
    """The second key of a role's lock: stable across instances and versions."""
    return zlib.crc32(role.encode()) & 0x7FFF_FFFF


class RoleLocks:
    """This instance's role locks, all on one connection of their own."""

    def __init__(self, db: PostgresDatabase, instance: str) -> None:
        self._db = db
        self.instance = instance
        self._conn: Any = None
        self.held: set[str] = set()
        self.pid = 0  # the lock connection's server process (0: none)

    async def connect(self) -> None:
        """(Re)open the dedicated connection; every role must be taken again after."""
        await self.close()
        try:
            self._conn = await self._db.connect(
                server_settings={"application_name": (APP_PREFIX + self.instance)[:63]}
            )
            self.pid = int(await self._conn.fetchval("SELECT pg_backend_pid()"))
        except Exception as exc:
            raise StorageUnavailable(f"cannot reach the database {self._db}: {exc}") from exc

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def try_take(self, role: str) -> bool:
        """Take `role` if no live instance holds it; True when this instance holds it."""
        if role in self.held:
            return True
        got = await self._conn.fetchval(
            "SELECT pg_try_advisory_lock($1, $2)", ROLE_SPACE, role_key(role)
        )
        if got:
            self.held.add(role)
        return bool(got)

    async def release(self, role: str) -> None:
        if role in self.held and self.connected:
            await self._conn.execute(
                "SELECT pg_advisory_unlock($1, $2)", ROLE_SPACE, role_key(role)
            )
        self.held.discard(role)

    async def alive(self) -> bool:
        """Whether the connection (and with it every role held) is still there."""
        if not self.connected:
            return False
        try:
            await self._conn.fetchval("SELECT 1", timeout=PING_TIMEOUT)
        except Exception:
            return False
        return True

    def fence(self, role: str) -> tuple[str, tuple[int, ...]]:
        """A condition (SQL, parameters) that holds while this instance's lock connection
        holds `role`: a claim under it cannot happen once the role is lost, even before
        this instance has noticed."""
        return _HOLDS_LOCK, (ROLE_SPACE, role_key(role), self.pid)

    async def close(self) -> None:
        self.held.clear()
        self.pid = 0
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await close_connection(conn)


_HOLDS_LOCK = (
    "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = ? "
    "AND objid = ? AND objsubid = 2 AND pid = ? AND granted)"
)


async def swap_holder(db: PostgresDatabase, role: str, instance: str) -> str | None:
    """Record `instance` as `role`'s holder; returns the instance that held it before."""
    key = f"role-holder:{role}"
    async with db.transaction() as tx:
        row = await tx.fetch_one("SELECT value FROM bot_state WHERE key = ? FOR UPDATE", (key,))
        await tx.execute(
            "INSERT INTO bot_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, instance),
        )
    return None if row is None else str(row["value"])


async def still_connected(db: PostgresDatabase, instance: str) -> bool:
    """Whether `instance` has any connection to the database now (its role connection or
    its pool): a process that is gone has none; one that lost only its lock has some."""
    row = await db.fetch_one(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name IN (?, ?) "
        "AND datname = current_database()) AS up",
        ((APP_PREFIX + instance)[:63], (POOL_PREFIX + instance)[:63]),
    )
    return row is not None and bool(row["up"])


@dataclass(frozen=True, slots=True)
class LiveInstance:
    name: str
    roles: tuple[str, ...]
    since: float  # when its role connection opened (Unix time)


async def live_instances(db: PostgresDatabase, roles: list[str]) -> list[LiveInstance]:
    """Every instance connected now, with the roles it holds (of `roles`, by their keys)."""
    rows = await db.fetch_all(
        "SELECT a.application_name AS app, extract(epoch FROM a.backend_start) AS since, "
        "array_remove(array_agg(l.objid::bigint ORDER BY l.objid), NULL) AS keys "
        "FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid "
        "AND l.locktype = 'advisory' AND l.granted AND l.classid = ? "
        "WHERE a.application_name LIKE ? AND a.datname = current_database() "
        "GROUP BY a.application_name, a.backend_start ORDER BY a.application_name",
        (ROLE_SPACE, APP_PREFIX + "%"),
    )
    by_key = {role_key(r): r for r in roles}
    return [
        LiveInstance(
            name=str(r["app"])[len(APP_PREFIX) :],
            roles=tuple(by_key.get(int(k), f"#{k}") for k in r["keys"]),
            since=float(r["since"]),
        )
        for r in rows
    ]


class FencedDatabase:
    """The database as one role's sender sees it: the same queries, and claims that hold
    only while this instance's lock connection holds the role (`outbox.Fenced`)."""

    dialect = "postgres"

    def __init__(self, db: PostgresDatabase, locks: RoleLocks, role: str) -> None:
        self._db = db
        self._locks = locks
        self._role = role

    def claim_fence(self) -> tuple[str, tuple[int, ...]]:
        return self._locks.fence(self._role)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        return await self._db.fetch_one(sql, params)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._db.fetch_all(sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        return await self._db.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._db.executemany(sql, rows)

    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        return self._db.transaction()

    async def version(self) -> int:
        return await self._db.version()

    async def migrate(self, migrations: list[tuple[int, str, str]] | None = None) -> int:
        return await self._db.migrate(migrations)

    async def close(self) -> None:
        """Nothing to close: the database belongs to the composition root, not the view."""
