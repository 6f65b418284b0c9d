"""Typed queries for the durable outbox (items and their delivery rows)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiosqlite

from bot.storage.db import Database

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
UNKNOWN = "unknown"
GONE = "gone"
CANCELLED = "cancelled"
FINAL_STATES = (SENT, FAILED, UNKNOWN, GONE, CANCELLED)


@dataclass(frozen=True, slots=True)
class Target:
    """One place an item is delivered to."""

    platform: str
    chat_id: str
    chat_kind: str
    target: str  # "channel:<name>", "subscriber" or "admin"


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    item_id: int
    action: str
    platform: str
    chat_id: str
    chat_kind: str
    target: str
    state: str
    attempts: int
    next_attempt_at: float
    message_id: str | None
    post_json: str
    instance: str = ""  # this database's random id (migration 0006)

    @property
    def key(self) -> str:
        """The stable idempotency key (Matrix uses it as the transaction id)."""
        return f"outbox-{self.instance}-{self.id}"


_ROW_SQL = """
SELECT d.id, d.item_id, d.action, d.platform, d.chat_id, d.chat_kind, d.target, d.state,
       d.attempts, d.next_attempt_at, d.message_id, i.post,
       (SELECT value FROM bot_state WHERE key = 'instance')
FROM deliveries d JOIN outbox_items i ON i.id = d.item_id
"""


def _row(r: aiosqlite.Row) -> DeliveryRow:
    return DeliveryRow(
        id=r[0],
        item_id=r[1],
        action=r[2],
        platform=r[3],
        chat_id=r[4],
        chat_kind=r[5],
        target=r[6],
        state=r[7],
        attempts=r[8],
        next_attempt_at=r[9],
        message_id=r[10],
        post_json=r[11],
        instance=r[12] or "",
    )


async def insert_item(
    conn: aiosqlite.Connection,
    *,
    kind: str,
    ref: str | None,
    post_json: str,
    targets: Iterable[Target],
    now: float | None = None,
) -> int:
    """Write an item and one pending delivery per target; call inside a transaction."""
    now = time.time() if now is None else now
    cur = await conn.execute(
        "INSERT INTO outbox_items (kind, ref, post, created_at) VALUES (?, ?, ?, ?)",
        (kind, ref, post_json, now),
    )
    item_id = cur.lastrowid
    assert item_id is not None
    await conn.executemany(
        "INSERT INTO deliveries (item_id, platform, chat_id, chat_kind, target, state, "
        "next_attempt_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
        [(item_id, t.platform, t.chat_id, t.chat_kind, t.target, now, now) for t in targets],
    )
    return item_id


async def insert_edits(conn: aiosqlite.Connection, item_id: int, post_json: str, now: float) -> int:
    """Queue an edit of every sent delivery of `item_id` to `post_json`; returns how many."""
    await conn.execute("UPDATE outbox_items SET post = ? WHERE id = ?", (post_json, item_id))
    cur = await conn.execute(
        "INSERT INTO deliveries (item_id, action, platform, chat_id, chat_kind, target, state, "
        "next_attempt_at, message_id, updated_at) "
        "SELECT item_id, 'edit', platform, chat_id, chat_kind, target, 'pending', ?, "
        "message_id, ? FROM deliveries WHERE item_id = ? AND action = 'send' AND state = 'sent'",
        (now, now, item_id),
    )
    return cur.rowcount


async def due_rows(db: Database, platform: str, now: float, limit: int) -> list[DeliveryRow]:
    rows = await db.fetch_all(
        _ROW_SQL + "WHERE d.platform = ? AND d.state = 'pending' AND d.next_attempt_at <= ? "
        "ORDER BY d.next_attempt_at, d.id LIMIT ?",
        (platform, now, limit),
    )
    return [_row(r) for r in rows]


async def next_due_at(db: Database, platform: str) -> float | None:
    row = await db.fetch_one(
        "SELECT MIN(next_attempt_at) FROM deliveries WHERE platform = ? AND state = 'pending'",
        (platform,),
    )
    return None if row is None or row[0] is None else float(row[0])


async def claim(db: Database, delivery_id: int, now: float) -> bool:
    """Mark a pending row `sending` before its send; False if someone else took it."""
    changed = await db.execute(
        "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, updated_at = ? "
        "WHERE id = ? AND state = 'pending'",
        (now, delivery_id),
    )
    return changed == 1


async def finish(
    db: Database,
    delivery_id: int,
    state: str,
    *,
    now: float,
    message_id: str | None = None,
    error: str | None = None,
) -> None:
    await db.execute(
        "UPDATE deliveries SET state = ?, message_id = COALESCE(?, message_id), error = ?, "
        "updated_at = ? WHERE id = ?",
        (state, message_id, error, now, delivery_id),
    )


async def retry_later(
    db: Database, delivery_id: int, at: float, *, now: float, error: str, count: bool = True
) -> None:
    """Put a row back to pending for `at`; `count=False` undoes the attempt (rate limits)."""
    await db.execute(
        "UPDATE deliveries SET state = 'pending', next_attempt_at = ?, error = ?, updated_at = ?, "
        "attempts = attempts - ? WHERE id = ?",
        (at, error, now, 0 if count else 1, delivery_id),
    )


async def end_chat(db: Database, platform: str, chat_id: str, now: float) -> int:
    """A chat is gone: its other pending rows will never be delivered."""
    return await db.execute(
        "UPDATE deliveries SET state = 'gone', updated_at = ? "
        "WHERE platform = ? AND chat_id = ? AND state = 'pending'",
        (now, platform, chat_id),
    )


async def move_chat(db: Database, platform: str, old_id: str, new_id: str) -> int:
    """A chat got a new id (a Telegram group became a supergroup): pending rows follow."""
    return await db.execute(
        "UPDATE deliveries SET chat_id = ? WHERE platform = ? AND chat_id = ? "
        "AND state IN ('pending', 'sending')",
        (new_id, platform, old_id),
    )


async def recover_sending(
    db: Database, platforms_to_resend: Sequence[str], now: float
) -> dict[str, int]:
    """Resolve rows a crash left in `sending`.

    On platforms whose sends are idempotent (or where the operator asked for
    at-least-once) they go back to pending with the same key; elsewhere they
    become `unknown` and are not re-sent.
    """
    counts: dict[str, int] = {}
    async with db.transaction() as conn:
        marks = ",".join("?" for _ in platforms_to_resend) or "''"
        cur = await conn.execute(
            f"UPDATE deliveries SET state = 'pending', next_attempt_at = ?, updated_at = ? "  # noqa: S608
            f"WHERE state = 'sending' AND platform IN ({marks})",
            (now, now, *platforms_to_resend),
        )
        counts["resend"] = cur.rowcount
        cur = await conn.execute(
            "UPDATE deliveries SET state = 'unknown', error = 'interrupted while sending', "
            "updated_at = ? WHERE state = 'sending'",
            (now,),
        )
        counts["unknown"] = cur.rowcount
    return counts


async def item_counts(db: Database, item_id: int) -> dict[str, int]:
    rows = await db.fetch_all(
        "SELECT state, COUNT(*) FROM deliveries WHERE item_id = ? AND action = 'send' "
        "GROUP BY state",
        (item_id,),
    )
    return {str(r[0]): int(r[1]) for r in rows}


async def pending_count(db: Database, before: float | None = None) -> int:
    sql = "SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'sending')"
    params: tuple[float, ...] = ()
    if before is not None:
        sql += " AND next_attempt_at <= ?"
        params = (before,)
    row = await db.fetch_one(sql, params)
    return int(row[0]) if row else 0
