"""Copying a SQLite database into an empty PostgreSQL one (`outreach-bot copy-db`).

Every table is copied row for row with its ids (identity sequences then continue after
the highest id), in an order that keeps foreign keys satisfied, in one transaction: a
failure leaves the target empty. The database's random instance id (part of every outbox
idempotency key) comes along, so a homeserver that remembers transaction ids still
recognises the messages already sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage import ledger as lq
from bot.storage.postgres import PostgresDatabase
from bot.storage.sqlite import SqliteDatabase

# Parents before children; the FTS index and generated search column rebuild themselves.
TABLES = (
    "bot_state", "feeds", "articles", "subscribers", "channels_gone", "outbox_items",
    "deliveries", "ledger_entries", "milestones", "thank_links", "stripe_objects",
    "announcements", "audit_log", "people",
)  # fmt: skip
WITH_IDS = ("articles", "outbox_items", "deliveries", "ledger_entries", "announcements",
            "audit_log")  # fmt: skip


class TargetNotEmpty(Exception):
    """The PostgreSQL database already holds the bot's data."""


@dataclass(frozen=True, slots=True)
class Side:
    """What one database holds: rows per table and campaign totals."""

    counts: dict[str, int]
    totals: list[lq.TotalRow]


async def describe(db: SqliteDatabase | PostgresDatabase) -> Side:
    counts = {}
    for table in TABLES:
        row = await db.fetch_one(f"SELECT COUNT(*) AS n FROM {table}")  # noqa: S608
        counts[table] = int(row["n"]) if row else 0
    return Side(counts, await lq.totals(db))


async def _is_empty(target: PostgresDatabase) -> bool:
    side = await describe(target)
    # A fresh database holds one row: its own instance id (migration 0006).
    return all(n == 0 for t, n in side.counts.items() if t != "bot_state") and (
        side.counts["bot_state"] <= 1
    )


async def _columns(source: SqliteDatabase, table: str) -> list[str]:
    rows = await source.fetch_all(f"SELECT name FROM pragma_table_info('{table}')")  # noqa: S608
    return [str(r["name"]) for r in rows]


async def copy_database(source: SqliteDatabase, target: PostgresDatabase) -> None:
    """Copy every row of `source` into the empty `target` (TargetNotEmpty otherwise)."""
    if not await _is_empty(target):
        raise TargetNotEmpty(f"{target} is not empty: copy-db only fills an empty database")
    async with target.transaction() as tx:
        await tx.execute("DELETE FROM bot_state")
        for table in TABLES:
            columns = await _columns(source, table)
            names = ", ".join(columns)
            rows = await source.fetch_all(f"SELECT {names} FROM {table}")  # noqa: S608
            marks = ", ".join("?" * len(columns))
            await tx.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608
                [tuple(r[c] for c in columns) for r in rows],
            )
        for table in WITH_IDS:
            await tx.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )
