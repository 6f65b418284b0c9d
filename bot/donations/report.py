"""Reports for operators and treasurers: progress as JSON or text, the ledger as CSV."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from typing import Any, TextIO

from bot.donations.campaigns import UNASSIGNED, Campaign, Totals, progress_from_totals
from bot.donations.ledger import Ledger
from bot.donations.money import format_amount, to_major
from bot.donations.render import other_currencies, progress_line
from bot.i18n import Lang
from bot.storage import ledger as lq

# Operators read the reports in English, like the log.
OPERATOR = Lang.of("en")


async def progress_json(ledger: Ledger) -> dict[str, Any]:
    """`{"mode", "campaigns": [{"id", "currency", "goal", "raised", "donations",
    "by_currency", "monthly_supporters", "monthly_amount"}], "unassigned"}`.

    `mode` is the Stripe key's ("test" or "live"; null without Stripe): only payments of
    that mode (and offline gifts) are counted. Amounts are minor units. `raised` is the
    net in the campaign's currency (paid, minus refunds and lost disputes, plus offline
    gifts); `by_currency` the net in every currency the campaign received. Money no
    campaign claims is under "unassigned".
    """
    totals = await ledger.totals()
    monthly = await ledger.monthly()
    campaigns = []
    for c in ledger.campaigns.values():
        row = monthly.get(c.id, {}).get(c.currency)
        campaigns.append(campaign_json(c, totals.get(c.id, {}), row))
    unassigned = totals.get(UNASSIGNED, {})
    return {
        "mode": ledger.mode,
        "campaigns": campaigns,
        "unassigned": {
            "donations": sum(t.donations for t in unassigned.values()),
            "by_currency": {cur: t.net for cur, t in sorted(unassigned.items())},
        },
    }


def campaign_json(
    campaign: Campaign, totals: dict[str, Totals], monthly: lq.MonthlyRow | None = None
) -> dict[str, Any]:
    """One campaign's entry of `progress_json` from its per-currency totals and its
    running monthly gifts in its own currency."""
    running = (monthly.supporters, monthly.amount) if monthly else (0, 0)
    progress = progress_from_totals(campaign, totals, running)
    by_currency = {campaign.currency: progress.raised}
    by_currency.update({cur: t.net for cur, t in sorted(totals.items())})
    return {
        "id": campaign.id,
        "currency": campaign.currency,
        "goal": campaign.goal,
        "raised": progress.raised,
        "donations": progress.donations,
        "by_currency": by_currency,
        "monthly_supporters": progress.monthly_supporters,
        "monthly_amount": progress.monthly_amount,
    }


async def progress_text(ledger: Ledger, today: date) -> list[str]:
    """One line per campaign (plus other currencies and unassigned money, if any)."""
    lines = []
    for p in await ledger.progress():
        lines.append(
            progress_line(p, today, OPERATOR) + ("" if p.campaign.active else " (inactive)")
        )
        others = other_currencies(p, OPERATOR)
        if others:
            lines.append("  " + others)
    unassigned = (await ledger.totals()).get(UNASSIGNED, {})
    if any(t.net for t in unassigned.values()):
        amounts = " · ".join(format_amount(t.net, cur) for cur, t in sorted(unassigned.items()))
        lines.append(f"Unassigned (no known campaign): {amounts}")
    return lines


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


CSV_COLUMNS = (
    "id",
    "recorded_at",
    "occurred_at",
    "kind",
    "campaign",
    "amount_minor",
    "amount",
    "currency",
    "object_id",
    "variant",
    "payment_intent",
    "event_id",
    "named_campaign",
    "note",
    "mode",
    "subscription",
)


def write_csv(entries: list[lq.Entry], out: TextIO) -> None:
    """Every ledger entry, oldest first; amounts both in minor units and as decimals.

    `mode` is the Stripe mode the entry came from ("test" or "live"; empty for an offline
    gift); times are rounded down to the hour, as stored."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow(
            (
                e.id,
                _iso(e.recorded_at),
                _iso(e.occurred_at),
                e.kind,
                e.campaign,
                e.amount,
                format(to_major(e.amount, e.currency), "f"),
                e.currency,
                e.object_id,
                e.variant,
                e.payment_intent or "",
                e.event_id or "",
                e.campaign_ref or "",
                e.note,
                e.mode,
                e.subscription or "",
            )
        )
