"""Typed queries for the durable outbox (items and their delivery rows)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.storage.db import Database, Executor, Row, Tx, marks

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
    form: str = ""  # how the sent post shows (the adapter's SentRef.form; migration 0010)
    created_at: float = 0.0  # when its item was enqueued

    @property
    def key(self) -> str:
        """The stable idempotency key (Matrix uses it as the transaction id)."""
        return f"outbox-{self.instance}-{self.id}"


_ROW_SQL = """
SELECT d.id AS id, d.item_id AS item_id, d.action AS action, d.platform AS platform,
       d.chat_id AS chat_id, d.chat_kind AS chat_kind, d.target AS target, d.state AS state,
       d.attempts AS attempts, d.next_attempt_at AS next_attempt_at,
       d.message_id AS message_id, i.post AS post_json, d.sent_form AS sent_form,
       i.created_at AS created_at,
       (SELECT value FROM bot_state WHERE key = 'instance') AS instance
FROM deliveries d JOIN outbox_items i ON i.id = d.item_id
"""


def _row(r: Row) -> DeliveryRow:
    return DeliveryRow(
        id=r["id"],
        item_id=r["item_id"],
        action=r["action"],
        platform=r["platform"],
        chat_id=r["chat_id"],
        chat_kind=r["chat_kind"],
        target=r["target"],
        state=r["state"],
        attempts=r["attempts"],
        next_attempt_at=r["next_attempt_at"],
        message_id=r["message_id"],
        post_json=r["post_json"],
        instance=r["instance"] or "",
        form=r["sent_form"],
        created_at=r["created_at"],
    )


async def insert_item(
    tx: Tx,
    *,
    kind: str,
    ref: str | None,
    post_json: str,
    targets: Iterable[Target],
    now: float | None = None,
    due: float | None = None,
) -> int:
    """Write an item and one pending delivery per target, inside `tx`; returns the item's id.

    The rows are due at `due` (default `now`); an earlier time puts them ahead of the queue.

    Only the outbox service (`bot.outbox.Outbox.enqueue`) calls this: it wakes the workers.
    """
    now = time.time() if now is None else now
    row = await tx.fetch_one(
        "INSERT INTO outbox_items (kind, ref, post, created_at) VALUES (?, ?, ?, ?) RETURNING id",
        (kind, ref, post_json, now),
    )
    assert row is not None
    item_id = int(row["id"])
    due = now if due is None else due
    for (platform, chat_kind, target), chat_ids in _runs(targets):
        # One statement a run, its chat ids as one JSON array the database unpacks:
        # no parameter tuple per row (a fan-out to 100,000 chats is 100,000 rows).
        await tx.execute(
            _INSERT_RUN[tx.dialect],
            (item_id, platform, chat_kind, target, due, now, json.dumps(chat_ids)),
        )
    return item_id


# The rows of a run of targets, in the order of its JSON array of chat ids.
_INSERT_RUN = {
    "sqlite": "INSERT INTO deliveries (item_id, platform, chat_id, chat_kind, target, state, "
    "next_attempt_at, updated_at) SELECT ?, ?, value, ?, ?, 'pending', ?, ? "
    "FROM json_each(?) ORDER BY key",
    "postgres": "INSERT INTO deliveries (item_id, platform, chat_id, chat_kind, target, state, "
    "next_attempt_at, updated_at) SELECT ?, ?, chat.id, ?, ?, 'pending', ?, ? "
    "FROM json_array_elements_text(?::json) WITH ORDINALITY AS chat (id, n) ORDER BY chat.n",
}


def _runs(targets: Iterable[Target]) -> Iterator[tuple[tuple[str, str, str], list[str]]]:
    """Consecutive targets alike but for their chat, as (platform, kind, target), chat ids."""
    run: list[str] = []
    alike: tuple[str, str, str] | None = None
    for t in targets:
        key = (t.platform, t.chat_kind, t.target)
        if key != alike:
            if alike is not None:
                yield alike, run
            alike, run = key, []
        run.append(t.chat_id)
    if alike is not None:
        yield alike, run


async def insert_edits(tx: Tx, item_id: int, post_json: str, now: float) -> list[str]:
    """Queue an edit of every sent delivery of `item_id` to `post_json`, inside `tx`;
    returns the platform of each edit queued."""
    await tx.execute("UPDATE outbox_items SET post = ? WHERE id = ?", (post_json, item_id))
    rows = await tx.fetch_all(
        "INSERT INTO deliveries (item_id, action, platform, chat_id, chat_kind, target, state, "
        "next_attempt_at, message_id, sent_form, updated_at) "
        "SELECT item_id, 'edit', platform, chat_id, chat_kind, target, 'pending', ?, "
        "message_id, sent_form, ? FROM deliveries "
        "WHERE item_id = ? AND action = 'send' AND state = 'sent' "
        "RETURNING platform",
        (now, now, item_id),
    )
    return [str(r["platform"]) for r in rows]


async def due_rows(db: Executor, platform: str, now: float, limit: int) -> list[DeliveryRow]:
    rows = await db.fetch_all(
        _ROW_SQL + "WHERE d.platform = ? AND d.state = 'pending' AND d.next_attempt_at <= ? "
        "ORDER BY d.next_attempt_at, d.id LIMIT ?",
        (platform, now, limit),
    )
    return [_row(r) for r in rows]


async def next_due_at(db: Executor, platform: str) -> float | None:
    row = await db.fetch_one(
        "SELECT MIN(next_attempt_at) AS due FROM deliveries "
        "WHERE platform = ? AND state = 'pending'",
        (platform,),
    )
    return None if row is None or row["due"] is None else float(row["due"])


@runtime_checkable
class Fenced(Protocol):
    """A database view whose claims hold only while its instance holds the sender role
    (`bot.storage.roles.RoleLocks.fence`): on PostgreSQL with several instances."""

    def claim_fence(self) -> tuple[str, tuple[int, ...]]: ...


async def claim(db: Database, delivery_id: int, now: float) -> bool:
    """Mark a pending row `sending` before its send; False if someone else took it.

    On PostgreSQL a row another instance is claiming is skipped, not waited for
    (`FOR UPDATE SKIP LOCKED`), and through a `Fenced` view nothing is claimed once the
    role's lock is gone, so every row left `sending` was claimed before its new holder
    took the role.
    """
    where = "id = ? AND state = 'pending'"
    params: tuple[object, ...] = (now, delivery_id)
    if db.dialect == "postgres":
        where = f"id = (SELECT id FROM deliveries WHERE {where} FOR UPDATE SKIP LOCKED)"  # noqa: S608
        if isinstance(db, Fenced):
            fence, fence_params = db.claim_fence()
            where += f" AND {fence}"
            params += fence_params
    changed = await db.execute(
        "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, updated_at = ? "  # noqa: S608
        f"WHERE {where}",
        params,
    )
    return changed == 1


async def claim_many(
    tx: Tx, delivery_ids: Sequence[int], now: float, fence: Fenced | None = None
) -> set[int]:
    """`claim` for many rows in one statement, inside `tx`; the ids claimed (a row another
    worker took, or one cancelled meanwhile, is not among them). `fence`: the `Fenced`
    view the worker claims through, whose role's lock every claim must still hold."""
    if not delivery_ids:
        return set()
    where = f"id IN ({marks(delivery_ids)}) AND state = 'pending'"
    params: tuple[object, ...] = (now, *delivery_ids)
    if tx.dialect == "postgres":
        where = f"id IN (SELECT id FROM deliveries WHERE {where} FOR UPDATE SKIP LOCKED)"  # noqa: S608
        if fence is not None:
            condition, fence_params = fence.claim_fence()
            where += f" AND {condition}"
            params += fence_params
    rows = await tx.fetch_all(
        "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, updated_at = ? "  # noqa: S608
        f"WHERE {where} RETURNING id",
        params,
    )
    return {int(r["id"]) for r in rows}


@dataclass(frozen=True, slots=True)
class Outcome:
    """A row's final state, as `finish` writes it."""

    delivery_id: int
    state: str
    message_id: str | None = None
    error: str | None = None
    form: str | None = None  # what was sent (the adapter's SentRef.form)


async def finish_many(tx: Tx, outcomes: Sequence[Outcome], now: float) -> None:
    """`finish` for many rows in one round trip, inside `tx`."""
    await tx.executemany(
        "UPDATE deliveries SET state = ?, message_id = COALESCE(?, message_id), error = ?, "
        "sent_form = COALESCE(?, sent_form), updated_at = ? WHERE id = ?",
        [(o.state, o.message_id, o.error, o.form, now, o.delivery_id) for o in outcomes],
    )


async def finish(
    db: Database,
    delivery_id: int,
    state: str,
    *,
    now: float,
    message_id: str | None = None,
    error: str | None = None,
    form: str | None = None,
) -> None:
    await db.execute(
        "UPDATE deliveries SET state = ?, message_id = COALESCE(?, message_id), error = ?, "
        "sent_form = COALESCE(?, sent_form), updated_at = ? WHERE id = ?",
        (state, message_id, error, form, now, delivery_id),
    )


async def record_form(db: Database, row: DeliveryRow, form: str) -> None:
    """An edit changed how a sent post shows (a new image): later edits start from it."""
    await db.execute(
        "UPDATE deliveries SET sent_form = ? WHERE item_id = ? AND platform = ? "
        "AND chat_id = ? AND message_id = ? AND action = 'send' AND state = 'sent'",
        (form, row.item_id, row.platform, row.chat_id, row.message_id),
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
    """A chat got a new id (a Telegram group became a supergroup): its rows follow, sent
    ones too, so that a later edit is addressed to where the chat is now."""
    return await db.execute(
        "UPDATE deliveries SET chat_id = ? WHERE platform = ? AND chat_id = ?",
        (new_id, platform, old_id),
    )


async def delay_chat(db: Database, platform: str, chat_id: str, until: float, now: float) -> int:
    """Every pending row of a chat waits until `until` (a paused chat), or is due at
    `until` (a resumed one)."""
    return await db.execute(
        "UPDATE deliveries SET next_attempt_at = ?, updated_at = ? "
        "WHERE platform = ? AND chat_id = ? AND state = 'pending'",
        (until, now, platform, chat_id),
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
    async with db.transaction() as tx:
        counts["resend"] = await tx.execute(
            f"UPDATE deliveries SET state = 'pending', next_attempt_at = ?, updated_at = ? "  # noqa: S608
            f"WHERE state = 'sending' AND platform IN ({marks(platforms_to_resend)})",
            (now, now, *platforms_to_resend),
        )
        counts["unknown"] = await tx.execute(
            "UPDATE deliveries SET state = 'unknown', error = 'interrupted while sending', "
            "updated_at = ? WHERE state = 'sending'",
            (now,),
        )
    return counts


async def sending_ids(db: Executor, platform: str) -> list[int]:
    """The platform's rows claimed and not finished (`sending`)."""
    rows = await db.fetch_all(
        "SELECT id FROM deliveries WHERE state = 'sending' AND platform = ? ORDER BY id",
        (platform,),
    )
    return [int(r["id"]) for r in rows]


async def recover_rows(db: Database, ids: Sequence[int], *, resend: bool, now: float) -> int:
    """Resolve the rows `ids` a former sender left `sending` (those still are): back to
    pending with the same key when `resend`, else `unknown`. Returns how many it resolved."""
    if not ids:
        return 0
    if resend:
        return await db.execute(
            "UPDATE deliveries SET state = 'pending', next_attempt_at = ?, updated_at = ? "  # noqa: S608
            f"WHERE state = 'sending' AND id IN ({marks(ids)})",
            (now, now, *ids),
        )
    return await db.execute(
        "UPDATE deliveries SET state = 'unknown', error = 'interrupted while sending', "  # noqa: S608
        f"updated_at = ? WHERE state = 'sending' AND id IN ({marks(ids)})",
        (now, *ids),
    )


async def backlog(db: Executor) -> dict[str, int]:
    """Rows not yet delivered (pending or sending), per platform."""
    rows = await db.fetch_all(
        "SELECT platform, COUNT(*) AS n FROM deliveries "
        "WHERE state IN ('pending', 'sending') GROUP BY platform ORDER BY platform"
    )
    return {str(r["platform"]): int(r["n"]) for r in rows}


@dataclass(frozen=True, slots=True)
class FanoutSpan:
    """Items' sends on one platform: how many are not final yet, how many were sent, and
    the seconds from the first sent to the last (by their last update)."""

    unfinished: int
    sent: int
    seconds: float


async def fanout_span(db: Executor, item_ids: Sequence[int], platform: str) -> FanoutSpan:
    row = await db.fetch_one(
        "SELECT SUM(CASE WHEN state IN ('pending', 'sending') THEN 1 ELSE 0 END) AS unfinished, "  # noqa: S608
        "SUM(CASE WHEN state = 'sent' THEN 1 ELSE 0 END) AS sent, "
        "MIN(CASE WHEN state = 'sent' THEN updated_at END) AS first, "
        "MAX(CASE WHEN state = 'sent' THEN updated_at END) AS last "
        f"FROM deliveries WHERE item_id IN ({marks(item_ids)}) AND platform = ? "
        "AND action = 'send'",
        (*item_ids, platform),
    )
    if row is None or not row["sent"]:
        return FanoutSpan(int(row["unfinished"] or 0) if row else 0, 0, 0.0)
    seconds = float(row["last"]) - float(row["first"])
    return FanoutSpan(int(row["unfinished"] or 0), int(row["sent"]), seconds)


async def items_after(
    db: Executor, after_id: int, kind: str, limit: int
) -> list[tuple[int, str | None]]:
    """Items of `kind` with ids above `after_id`, oldest first: (id, ref)."""
    rows = await db.fetch_all(
        "SELECT id, ref FROM outbox_items WHERE id > ? AND kind = ? ORDER BY id LIMIT ?",
        (after_id, kind, limit),
    )
    return [(int(r["id"]), r["ref"]) for r in rows]


async def last_item_id(db: Executor) -> int:
    row = await db.fetch_one("SELECT MAX(id) AS last FROM outbox_items")
    return int(row["last"] or 0) if row else 0


async def item_counts(db: Executor, item_id: int) -> dict[str, int]:
    rows = await db.fetch_all(
        "SELECT state, COUNT(*) AS n FROM deliveries WHERE item_id = ? AND action = 'send' "
        "GROUP BY state",
        (item_id,),
    )
    return {str(r["state"]): int(r["n"]) for r in rows}


@dataclass(frozen=True, slots=True)
class ChannelActivity:
    """A channel's last post (when it was sent) and how many posts wait for it."""

    last_sent_at: float | None
    pending: int


async def channel_activity(db: Executor) -> dict[str, ChannelActivity]:
    """By target ("channel:<name>"): when its last post went out and how many wait."""
    rows = await db.fetch_all(
        "SELECT target, MAX(CASE WHEN state = 'sent' AND action = 'send' THEN updated_at END) "
        "AS last_sent, SUM(CASE WHEN state IN ('pending', 'sending') THEN 1 ELSE 0 END) "
        "AS pending FROM deliveries WHERE target LIKE 'channel:%' GROUP BY target"
    )
    return {str(r["target"]): ChannelActivity(r["last_sent"], int(r["pending"] or 0)) for r in rows}
