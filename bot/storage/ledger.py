"""Typed queries for the donations ledger, milestones, thank-you links and stored Stripe ids.

Totals are always sums over the append-only entries (see the `ledger_net` view),
never counters kept alongside them. Every donation time is stored rounded down to the
hour (`hour`), so no stored time can be matched to a payment's exact time at Stripe.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.storage.db import Database, Executor, Row, Tx, marks

HOUR = 3600


def hour(ts: float) -> float:
    """`ts` rounded down to the hour: the only precision a donation's time is kept at."""
    return float(int(ts // HOUR) * HOUR)


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
    mode: str = ""  # "test" or "live" (Stripe); "" for an offline gift
    subscription: str | None = None


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
    mode: str
    subscription: str | None


@dataclass(frozen=True, slots=True)
class TotalRow:
    campaign: str
    currency: str
    net: int
    donations: int


_INSERT_ENTRIES = (
    "INSERT INTO ledger_entries (object_id, kind, variant, campaign, campaign_ref, "
    "payment_intent, amount, currency, occurred_at, recorded_at, event_id, note, mode, "
    "subscription) VALUES "
)
_ENTRY_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
        hour(entry.occurred_at),
        hour(now),
        entry.event_id,
        entry.note,
        entry.mode,
        entry.subscription,
    )


async def append_entries(tx: Tx, entries: Sequence[NewEntry], now: float) -> list[int | None]:
    """Append entries inside a transaction, in one statement; for each, its new id or None
    if it was already there (or came earlier in `entries`). Ids follow the entries' order."""
    if not entries:
        return []
    rows = await tx.fetch_all(
        _INSERT_ENTRIES + ", ".join([_ENTRY_VALUES] * len(entries)) + _NEW_ONLY,
        [value for entry in entries for value in _values(entry, now)],
    )
    if rows and tx.dialect == "postgres":
        # Every instance's SSE clients hear of it, at commit (NOTIFY is transactional).
        await _notify_change(tx, {e.campaign or "" for e in entries})
    # RETURNING lists only the rows inserted, in no promised order: match them by identity.
    ids = {(str(r["object_id"]), str(r["kind"]), str(r["variant"])): int(r["id"]) for r in rows}
    return [ids.pop((e.object_id, e.kind, e.variant), None) for e in entries]


async def _notify_change(tx: Tx, campaigns: set[str]) -> None:
    for campaign in sorted(campaigns):
        await tx.execute("SELECT pg_notify('outreach_ledger', ?)", (campaign,))


_ENTRY_SQL = (
    "SELECT id, object_id, kind, variant, resolved_campaign AS campaign, campaign_ref, "
    "payment_intent, amount, currency, occurred_at, recorded_at, event_id, note, mode, "
    "subscription FROM ledger_resolved"
)


def _entry(r: Row) -> Entry:
    return Entry(
        id=r["id"],
        object_id=r["object_id"],
        kind=r["kind"],
        variant=r["variant"],
        campaign=r["campaign"],
        campaign_ref=r["campaign_ref"],
        payment_intent=r["payment_intent"],
        amount=r["amount"],
        currency=r["currency"],
        occurred_at=r["occurred_at"],
        recorded_at=r["recorded_at"],
        event_id=r["event_id"],
        note=r["note"],
        mode=r["mode"],
        subscription=r["subscription"],
    )


async def get_entry(db: Executor, entry_id: int) -> Entry | None:
    row = await db.fetch_one(_ENTRY_SQL + " WHERE id = ?", (entry_id,))
    return None if row is None else _entry(row)


async def all_entries(db: Executor) -> list[Entry]:
    """Every entry in the order it was recorded (the treasurer's export)."""
    return [_entry(r) for r in await db.fetch_all(_ENTRY_SQL + " ORDER BY id")]


ALL_MODES = ("", "test", "live")


async def totals(db: Executor, modes: Sequence[str] = ALL_MODES) -> list[TotalRow]:
    """Net total and donation count per campaign and currency (never mixed), counting
    entries of `modes` only ("" is an offline gift, kept whatever the key's mode)."""
    nets = await db.fetch_all(
        f"SELECT campaign, currency, COALESCE(SUM(net), 0) AS net FROM ledger_net "  # noqa: S608
        f"WHERE mode IN ({marks(modes)}) GROUP BY campaign, currency",
        tuple(modes),
    )
    counts = await db.fetch_all(_COUNT_SQL.format(modes=marks(modes)), tuple(modes))
    found: dict[tuple[str, str], list[int]] = {}
    for r in nets:
        found[(str(r["campaign"]), str(r["currency"]))] = [int(r["net"]), 0]
    for r in counts:
        found.setdefault((str(r["campaign"]), str(r["currency"])), [0, 0])[1] = int(r["n"])
    return [TotalRow(c, cur, net, n) for (c, cur), (net, n) in sorted(found.items())]


# The PaymentIntents a payment was paid through: its own, or a monthly invoice's.
_INTENTS_OF_P = (
    "(p.payment_intent, (SELECT l.payment_intent FROM ledger_entries l "
    "WHERE l.kind = 'invoice_payment' AND l.object_id = p.object_id))"
)
# Donations: payments not fully refunded, and offline gifts not cancelled.
_COUNT_SQL = f"""
SELECT p.resolved_campaign AS campaign, p.currency AS currency, COUNT(*) AS n
FROM ledger_resolved p
WHERE p.mode IN ({{modes}})
  AND ((p.kind = 'gift' AND NOT EXISTS (
            SELECT 1 FROM ledger_entries v
            WHERE v.kind = 'gift_void' AND v.object_id = p.object_id))
       OR (p.kind = 'payment' AND COALESCE((
            SELECT MAX(r.amount) FROM ledger_entries r
            WHERE r.kind = 'refund' AND r.payment_intent IN {_INTENTS_OF_P}), 0) < p.amount))
GROUP BY p.resolved_campaign, p.currency
"""  # noqa: S608 - constant SQL


# The `ledger_net` view summed for one campaign and currency, with both filters applied
# while scanning instead of after resolving every entry's campaign: the same sum, in under
# half the time (it still reads the whole ledger). Keep it equal to the view.
_RESOLVE = (
    "COALESCE((SELECT MIN(p.campaign) FROM ledger_entries p "
    "WHERE p.kind = 'payment' AND p.payment_intent = e.payment_intent), "
    "(SELECT MIN(p.campaign) FROM ledger_entries l JOIN ledger_entries p "
    "ON p.kind = 'payment' AND p.object_id = l.object_id "
    "WHERE l.kind = 'invoice_payment' AND l.payment_intent = e.payment_intent))"
)
_CAMPAIGN_NET_SQL = f"""
SELECT COALESCE(SUM(net), 0) AS net FROM (
    SELECT CASE e.kind WHEN 'payment' THEN e.amount
                       WHEN 'gift' THEN e.amount
                       WHEN 'gift_void' THEN -e.amount
                       WHEN 'dispute_withdrawn' THEN -e.amount
                       WHEN 'dispute_reinstated' THEN e.amount END AS net
    FROM ledger_entries e
    WHERE e.currency = ? AND e.mode IN ({{modes}})
      AND e.kind IN ('payment', 'gift', 'gift_void', 'dispute_withdrawn', 'dispute_reinstated')
      AND (e.campaign = ?
           OR (e.campaign IS NULL AND COALESCE({_RESOLVE}, 'unassigned') = ?))
    UNION ALL
    SELECT -MAX(e.amount) FROM ledger_entries e
    WHERE e.kind = 'refund' AND e.currency = ? AND e.mode IN ({{modes}})
    GROUP BY e.object_id
    HAVING MIN(COALESCE(e.campaign, {_RESOLVE}, 'unassigned')) = ?
) AS signed"""  # noqa: S608 - constant SQL (the alias: PostgreSQL names every subquery)


async def campaign_net(
    db: Executor, campaign: str, currency: str, modes: Sequence[str] = ALL_MODES
) -> int:
    """One campaign's net total in one currency, counting entries of `modes`; usable
    inside a transaction."""
    m = tuple(modes)
    # The placeholders in the order they appear in _CAMPAIGN_NET_SQL.
    params = (currency, *m, campaign, campaign, currency, *m, campaign)
    row = await db.fetch_one(_CAMPAIGN_NET_SQL.format(modes=marks(m)), params)
    return int(row["net"]) if row else 0


@dataclass(frozen=True, slots=True)
class MonthlyRow:
    campaign: str
    currency: str
    supporters: int
    amount: int  # a month's total: each running subscription's latest payment


_MONTHLY_SQL = """
SELECT campaign, currency, COUNT(*) AS supporters, SUM(amount) AS amount FROM (
    SELECT p.resolved_campaign AS campaign, p.currency AS currency, p.amount AS amount
    FROM ledger_resolved p
    WHERE p.kind = 'payment' AND p.subscription IS NOT NULL AND p.mode IN ({modes})
      AND p.id = (SELECT MAX(q.id) FROM ledger_entries q
                  WHERE q.kind = 'payment' AND q.subscription = p.subscription)
      AND NOT EXISTS (SELECT 1 FROM ledger_entries x
                      WHERE x.kind = 'subscription_ended' AND x.object_id = p.subscription)
) AS running
GROUP BY campaign, currency ORDER BY campaign, currency
"""


async def monthly(db: Executor, modes: Sequence[str] = ALL_MODES) -> list[MonthlyRow]:
    """Running monthly gifts per campaign and currency: how many, and a month's amount."""
    rows = await db.fetch_all(_MONTHLY_SQL.format(modes=marks(modes)), tuple(modes))
    return [
        MonthlyRow(str(r["campaign"]), str(r["currency"]), int(r["supporters"]), int(r["amount"]))
        for r in rows
    ]


async def counted_intent(db: Executor, payment_intent: str) -> bool:
    """Whether a payment the ledger counts was paid through this PaymentIntent."""
    row = await db.fetch_one(
        "SELECT 1 AS found FROM ledger_entries WHERE payment_intent = ? "
        "AND kind IN ('payment', 'invoice_payment') LIMIT 1",
        (payment_intent,),
    )
    return row is not None


async def has_entry(db: Executor, object_id: str, kind: str) -> bool:
    """Whether the ledger holds an entry of `kind` about `object_id` (any variant)."""
    row = await db.fetch_one(
        "SELECT 1 AS found FROM ledger_entries WHERE object_id = ? AND kind = ? LIMIT 1",
        (object_id, kind),
    )
    return row is not None


async def subscription_counted(db: Executor, subscription: str) -> bool:
    """Whether the ledger counts a payment of this subscription (so it is one of ours)."""
    row = await db.fetch_one(
        "SELECT 1 AS found FROM ledger_entries WHERE subscription = ? AND kind = 'payment' LIMIT 1",
        (subscription,),
    )
    return row is not None


async def awaiting_payment(db: Executor, payment_intents: Sequence[str]) -> bool:
    """Whether an entry without a campaign of its own (a refund or dispute) names one of
    these payment intents, and so counts for the campaign of that payment."""
    row = await db.fetch_one(
        f"SELECT 1 AS found FROM ledger_entries WHERE campaign IS NULL "  # noqa: S608
        f"AND payment_intent IN ({marks(payment_intents)}) LIMIT 1",
        tuple(payment_intents),
    )
    return row is not None


# --- milestones -------------------------------------------------------------------


async def passed_milestones(db: Executor, campaign: str) -> set[int]:
    rows = await db.fetch_all("SELECT threshold FROM milestones WHERE campaign = ?", (campaign,))
    return {int(r["threshold"]) for r in rows}


async def record_milestones(
    tx: Tx,
    campaign: str,
    thresholds: Iterable[int],
    now: float,
    item_id: int | None,
) -> None:
    """Mark thresholds passed, inside the transaction that queued their announcement."""
    await tx.executemany(
        "INSERT INTO milestones (campaign, threshold, reached_at, item_id) VALUES (?, ?, ?, ?)",
        [(campaign, t, hour(now), item_id) for t in thresholds],
    )


async def milestones(db: Executor, campaign: str) -> list[int]:
    rows = await db.fetch_all(
        "SELECT threshold FROM milestones WHERE campaign = ? ORDER BY threshold", (campaign,)
    )
    return [int(r["threshold"]) for r in rows]


# --- Stripe objects created once ----------------------------------------------------


async def get_stripe_object(db: Executor, key: str) -> str | None:
    row = await db.fetch_one("SELECT stripe_id FROM stripe_objects WHERE key = ?", (key,))
    return None if row is None else str(row["stripe_id"])


async def put_stripe_object(db: Database, key: str, stripe_id: str, now: float) -> str:
    """Store an id under `key` unless one is there already; return the stored id."""
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO stripe_objects (key, stripe_id, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO NOTHING",
            (key, stripe_id, now),
        )
        row = await tx.fetch_one("SELECT stripe_id FROM stripe_objects WHERE key = ?", (key,))
    assert row is not None
    return str(row["stripe_id"])
