"""Typed queries for the donations ledger, milestones, thank-you links and stored Stripe ids.

Totals are always sums over the append-only entries (see the `ledger_net` view),
never counters kept alongside them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiosqlite

from bot.storage.db import Database


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry about to be appended; (object_id, kind, variant) is its identity."""

    object_id: str
    kind: str
    amount: int
    currency: str
    occurred_at: float
    variant: str = ""
    campaign: str | None = None
    campaign_ref: str | None = None
    payment_intent: str | None = None
    event_id: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored entry, with its campaign resolved."""

    id: int
    object_id: str
    kind: str
    variant: str
    campaign: str
    campaign_ref: str | None
    payment_intent: str | None
    amount: int
    currency: str
    occurred_at: float
    recorded_at: float
    event_id: str | None
    note: str


@dataclass(frozen=True, slots=True)
class TotalRow:
    campaign: str
    currency: str
    net: int
    donations: int


_INSERT_ENTRIES = (
    "INSERT INTO ledger_entries (object_id, kind, variant, campaign, campaign_ref, "
    "payment_intent, amount, currency, occurred_at, recorded_at, event_id, note) VALUES "
)
_ENTRY_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_NEW_ONLY = (
    " ON CONFLICT (object_id, kind, variant) DO NOTHING RETURNING id, object_id, kind, variant"
)


def _values(entry: NewEntry, now: float) -> tuple[object, ...]:
    return (
        entry.object_id,
        entry.kind,
        entry.variant,
        entry.campaign,
        entry.campaign_ref,
        entry.payment_intent,
        entry.amount,
        entry.currency,
        entry.occurred_at,
        now,
        entry.event_id,
        entry.note,
    )


async def append_entries(
    conn: aiosqlite.Connection, entries: Sequence[NewEntry], now: float
) -> list[int | None]:
    """Append entries inside a transaction, in one statement; for each, its new id or None
    if it was already there (or came earlier in `entries`). Ids follow the entries' order."""
    if not entries:
        return []
    rows = await conn.execute_fetchall(
        _INSERT_ENTRIES + ", ".join([_ENTRY_VALUES] * len(entries)) + _NEW_ONLY,
        [value for entry in entries for value in _values(entry, now)],
    )
    # RETURNING lists only the rows inserted, in no promised order: match them by identity.
    ids = {(str(r[1]), str(r[2]), str(r[3])): int(r[0]) for r in rows}
    return [ids.pop((e.object_id, e.kind, e.variant), None) for e in entries]


_ENTRY_SQL = (
    "SELECT id, object_id, kind, variant, resolved_campaign, campaign_ref, payment_intent, "
    "amount, currency, occurred_at, recorded_at, event_id, note FROM ledger_resolved"
)


def _entry(r: aiosqlite.Row) -> Entry:
    return Entry(
        id=r[0],
        object_id=r[1],
        kind=r[2],
        variant=r[3],
        campaign=r[4],
        campaign_ref=r[5],
        payment_intent=r[6],
        amount=r[7],
        currency=r[8],
        occurred_at=r[9],
        recorded_at=r[10],
        event_id=r[11],
        note=r[12],
    )


async def get_entry(db: Database, entry_id: int) -> Entry | None:
    row = await db.fetch_one(_ENTRY_SQL + " WHERE id = ?", (entry_id,))
    return None if row is None else _entry(row)


async def all_entries(db: Database) -> list[Entry]:
    """Every entry in the order it was recorded (the treasurer's export)."""
    return [_entry(r) for r in await db.fetch_all(_ENTRY_SQL + " ORDER BY id")]


async def is_voided(db: Database, gift_object_id: str) -> bool:
    row = await db.fetch_one(
        "SELECT 1 FROM ledger_entries WHERE object_id = ? AND kind = 'gift_void'",
        (gift_object_id,),
    )
    return row is not None


_TOTALS_SQL = (
    "SELECT campaign, currency, COALESCE(SUM(net), 0), COALESCE(SUM(donations), 0) FROM ledger_net"
)


async def totals(db: Database | aiosqlite.Connection) -> list[TotalRow]:
    """Net total and donation count per campaign and currency (never mixed)."""
    sql = _TOTALS_SQL + " GROUP BY campaign, currency ORDER BY campaign, currency"
    rows = await db.fetch_all(sql) if isinstance(db, Database) else await db.execute_fetchall(sql)
    return [TotalRow(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]


# The `ledger_net` view summed for one campaign and currency, with both filters applied
# while scanning instead of after resolving every entry's campaign: the same sum, in under
# half the time (it still reads the whole ledger). Keep it equal to the view.
_RESOLVE = (
    "(SELECT MIN(p.campaign) FROM ledger_entries p "
    "WHERE p.kind = 'payment' AND p.payment_intent = e.payment_intent)"
)
_CAMPAIGN_NET_SQL = f"""
SELECT COALESCE(SUM(net), 0) FROM (
    SELECT CASE e.kind WHEN 'payment' THEN e.amount
                       WHEN 'gift' THEN e.amount
                       WHEN 'gift_void' THEN -e.amount
                       WHEN 'dispute_withdrawn' THEN -e.amount
                       WHEN 'dispute_reinstated' THEN e.amount END AS net
    FROM ledger_entries e
    WHERE e.currency = :currency
      AND e.kind IN ('payment', 'gift', 'gift_void', 'dispute_withdrawn', 'dispute_reinstated')
      AND (e.campaign = :campaign
           OR (e.campaign IS NULL AND COALESCE({_RESOLVE}, 'unassigned') = :campaign))
    UNION ALL
    SELECT -MAX(e.amount) FROM ledger_entries e
    WHERE e.kind = 'refund' AND e.currency = :currency
    GROUP BY e.object_id
    HAVING MIN(COALESCE(e.campaign, {_RESOLVE}, 'unassigned')) = :campaign
)"""  # noqa: S608 - constant SQL


async def campaign_net(conn: aiosqlite.Connection, campaign: str, currency: str) -> int:
    """One campaign's net total in one currency; usable inside a transaction."""
    rows = list(
        await conn.execute_fetchall(_CAMPAIGN_NET_SQL, {"campaign": campaign, "currency": currency})
    )
    return int(rows[0][0]) if rows else 0


async def awaiting_payment(conn: aiosqlite.Connection, payment_intents: Sequence[str]) -> bool:
    """Whether an entry without a campaign of its own (a refund or dispute) names one of
    these payment intents, and so counts for the campaign of that payment."""
    marks = ",".join("?" for _ in payment_intents) or "''"
    rows = await conn.execute_fetchall(
        f"SELECT 1 FROM ledger_entries WHERE campaign IS NULL "  # noqa: S608
        f"AND payment_intent IN ({marks}) LIMIT 1",
        tuple(payment_intents),
    )
    return bool(list(rows))


# --- milestones -------------------------------------------------------------------


async def passed_milestones(conn: aiosqlite.Connection, campaign: str) -> set[int]:
    rows = await conn.execute_fetchall(
        "SELECT threshold FROM milestones WHERE campaign = ?", (campaign,)
    )
    return {int(r[0]) for r in rows}


async def record_milestones(
    conn: aiosqlite.Connection,
    campaign: str,
    thresholds: Iterable[int],
    now: float,
    item_id: int | None,
) -> None:
    """Mark thresholds passed, inside the transaction that queued their announcement."""
    await conn.executemany(
        "INSERT INTO milestones (campaign, threshold, reached_at, item_id) VALUES (?, ?, ?, ?)",
        [(campaign, t, now, item_id) for t in thresholds],
    )


async def milestones(db: Database, campaign: str) -> list[int]:
    rows = await db.fetch_all(
        "SELECT threshold FROM milestones WHERE campaign = ? ORDER BY threshold", (campaign,)
    )
    return [int(r[0]) for r in rows]


# --- thank-you links --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThankLink:
    platform: str
    chat_id: str
    chat_kind: str


async def thank_token(
    db: Database,
    *,
    request_key: str,
    new_token: str,
    link: ThankLink,
    now: float,
    expire_before: float,
) -> str:
    """The token for a link request: `new_token` the first time, the stored one after."""
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM thank_links WHERE created_at < ?", (expire_before,))
        await conn.execute(
            "INSERT INTO thank_links (token, request_key, platform, chat_id, chat_kind, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (request_key) DO NOTHING",
            (new_token, request_key, link.platform, link.chat_id, link.chat_kind, now),
        )
        async with conn.execute(
            "SELECT token FROM thank_links WHERE request_key = ?", (request_key,)
        ) as cur:
            row = await cur.fetchone()
    assert row is not None
    return str(row[0])


async def take_thank_link(conn: aiosqlite.Connection, token: str) -> ThankLink | None:
    """Remove and return the chat a token points to; call inside a transaction."""
    rows = list(
        await conn.execute_fetchall(
            "SELECT platform, chat_id, chat_kind FROM thank_links WHERE token = ?", (token,)
        )
    )
    if not rows:
        return None
    row = rows[0]
    await conn.execute("DELETE FROM thank_links WHERE token = ?", (token,))
    return ThankLink(str(row[0]), str(row[1]), str(row[2]))


async def thank_link_count(db: Database) -> int:
    row = await db.fetch_one("SELECT COUNT(*) FROM thank_links")
    return int(row[0]) if row else 0


async def thank_links_of(db: Database, platform: str, chat_ids: Sequence[str]) -> int:
    """How many pending "tell me when it arrives" links point at these chats (/mydata)."""
    marks = ",".join("?" for _ in chat_ids) or "''"
    row = await db.fetch_one(
        f"SELECT COUNT(*) FROM thank_links WHERE platform = ? AND chat_id IN ({marks})",  # noqa: S608
        (platform, *chat_ids),
    )
    return int(row[0]) if row else 0


async def forget_thank_links(
    conn: aiosqlite.Connection, platform: str, chat_ids: Sequence[str]
) -> None:
    """Delete the links to these chats (/forgetme); call inside a transaction."""
    marks = ",".join("?" for _ in chat_ids) or "''"
    await conn.execute(
        f"DELETE FROM thank_links WHERE platform = ? AND chat_id IN ({marks})",  # noqa: S608
        (platform, *chat_ids),
    )


# --- Stripe objects created once ----------------------------------------------------


async def get_stripe_object(db: Database, key: str) -> str | None:
    row = await db.fetch_one("SELECT stripe_id FROM stripe_objects WHERE key = ?", (key,))
    return None if row is None else str(row[0])


async def put_stripe_object(db: Database, key: str, stripe_id: str, now: float) -> str:
    """Store an id under `key` unless one is there already; return the stored id."""
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO stripe_objects (key, stripe_id, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO NOTHING",
            (key, stripe_id, now),
        )
        async with conn.execute(
            "SELECT stripe_id FROM stripe_objects WHERE key = ?", (key,)
        ) as cur:
            row = await cur.fetchone()
    assert row is not None
    return str(row[0])
