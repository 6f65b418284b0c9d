"""Typed queries for announcements and the audit log."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.storage.db import Database, Executor, Row, Tx

DRAFT = "draft"
SCHEDULED = "scheduled"
SENDING = "sending"
DONE = "done"
CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class AnnouncementRow:
    id: int
    author: str
    source: str
    post_json: str
    selectors: tuple[str, ...]
    state: str
    send_at: float | None
    item_id: int | None
    started_at: float | None
    report_platform: str | None
    report_chat: str | None
    report_kind: str | None
    report_message: str | None
    last_report_at: float | None


_SELECT = (
    "SELECT id, author, source, post, selectors, state, send_at, item_id, started_at, "
    "report_platform, report_chat, report_kind, report_message, last_report_at "
    "FROM announcements"
)


def _row(r: Row) -> AnnouncementRow:
    return AnnouncementRow(
        id=r["id"], author=r["author"], source=r["source"], post_json=r["post"],
        selectors=tuple(json.loads(r["selectors"])), state=r["state"], send_at=r["send_at"],
        item_id=r["item_id"], started_at=r["started_at"], report_platform=r["report_platform"],
        report_chat=r["report_chat"], report_kind=r["report_kind"],
        report_message=r["report_message"], last_report_at=r["last_report_at"],
    )  # fmt: skip


async def create(
    db: Database,
    *,
    author: str,
    source: str,
    post_json: str,
    selectors: list[str],
    send_at: float | None,
    now: float,
) -> int:
    async with db.transaction() as tx:
        row = await tx.fetch_one(
            "INSERT INTO announcements (author, source, post, selectors, state, send_at, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, 'draft', ?, ?, ?) RETURNING id",
            (author, source, post_json, json.dumps(selectors), send_at, now, now),
        )
    assert row is not None
    return int(row["id"])


async def get(db: Executor, announcement_id: int) -> AnnouncementRow | None:
    row = await db.fetch_one(_SELECT + " WHERE id = ?", (announcement_id,))
    return None if row is None else _row(row)


async def with_state(db: Executor, state: str) -> list[AnnouncementRow]:
    return [_row(r) for r in await db.fetch_all(_SELECT + " WHERE state = ? ORDER BY id", (state,))]


async def set_state(
    db: Database, announcement_id: int, state: str, now: float, *, expect: str | None = None
) -> bool:
    """Move to `state` (only from `expect` when given); False when it was not in `expect`."""
    sql = "UPDATE announcements SET state = ?, updated_at = ? WHERE id = ?"
    params: tuple[object, ...] = (state, now, announcement_id)
    if expect is not None:
        sql += " AND state = ?"
        params = (*params, expect)
    return await db.execute(sql, params) == 1


async def set_report(
    db: Database, announcement_id: int, *, platform: str, chat: str, kind: str, message_id: str
) -> None:
    await db.execute(
        "UPDATE announcements SET report_platform = ?, report_chat = ?, report_kind = ?, "
        "report_message = ? WHERE id = ?",
        (platform, chat, kind, message_id, announcement_id),
    )


async def reported(db: Database, announcement_id: int, now: float) -> None:
    await db.execute(
        "UPDATE announcements SET last_report_at = ? WHERE id = ?", (now, announcement_id)
    )


async def started(tx: Tx, announcement_id: int, item_id: int | None, now: float) -> None:
    """Inside the transaction that enqueued the item: the announcement is now sending."""
    await tx.execute(
        "UPDATE announcements SET state = 'sending', item_id = ?, started_at = ?, updated_at = ? "
        "WHERE id = ?",
        (item_id, now, now, announcement_id),
    )


async def cancel_pending(db: Database, item_id: int, now: float) -> int:
    """Rows not yet sent are cancelled; sends in flight finish."""
    return await db.execute(
        "UPDATE deliveries SET state = 'cancelled', updated_at = ? "
        "WHERE item_id = ? AND state = 'pending'",
        (now, item_id),
    )


# --- audit log ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    detail: str
    result: str


async def audit(
    db: Database, *, at: float, actor: str, action: str, detail: str, result: str
) -> None:
    await db.execute(
        "INSERT INTO audit_log (at, actor, action, detail, result) VALUES (?, ?, ?, ?, ?)",
        (at, actor, action, detail, result),
    )


async def audit_entries(db: Executor, limit: int) -> list[AuditEntry]:
    rows = await db.fetch_all(
        "SELECT id, at, actor, action, detail, result FROM audit_log ORDER BY id DESC LIMIT ?",
        (limit,),
    )
    return [
        AuditEntry(r["id"], r["at"], r["actor"], r["action"], r["detail"], r["result"])
        for r in rows
    ]
