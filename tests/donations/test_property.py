"""Property: any delivery order, with duplicates, gives the totals of one in-order delivery."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import offline_audience
from bot.donations import build_donations
from bot.donations.campaigns import Totals
from bot.storage import open_database
from tests.donations.conftest import BELARUS, RUSSIA, TOKYO, donation_config
from tests.fakes.stripe_api import (
    async_failed,
    async_succeeded,
    charge_refunded,
    checkout_completed,
    dispute_event,
)

CURRENCIES = {"russia": "usd", "belarus": "eur", "tokyo": "jpy", "nowhere": "usd"}


@st.composite
def payment_story(draw: st.DrawFn, n: int) -> list[dict[str, Any]]:
    """One payment's events in the order Stripe would send them."""
    campaign = draw(st.sampled_from([*CURRENCIES, None]))
    currency = CURRENCIES.get(campaign or "", "usd")
    amount = draw(st.integers(min_value=100, max_value=500_000))
    session, pi, charge = f"cs_{n}", f"pi_{n}", f"ch_{n}"
    kw: dict[str, Any] = {"campaign": campaign, "payment_intent": pi}
    flow = draw(st.sampled_from(["paid", "delayed", "failed"]))
    if flow == "failed":
        return [
            checkout_completed(session, amount, currency, paid=False, **kw),
            async_failed(session, amount, currency, **kw),
        ]
    events = [checkout_completed(session, amount, currency, paid=flow == "paid", **kw)]
    if flow == "delayed":
        events.append(async_succeeded(session, amount, currency, **kw))
    refunds = draw(st.lists(st.integers(1, amount), max_size=3, unique=True).map(sorted))
    events += [charge_refunded(charge, pi, amount, r, currency) for r in refunds]
    dispute = draw(st.sampled_from([None, "lost", "won", "open"]))
    if dispute is not None:
        dp = f"dp_{n}"
        events.append(dispute_event("created", dp, pi, amount, currency=currency))
        if dispute != "open":
            events.append(dispute_event("funds_withdrawn", dp, pi, amount, currency=currency))
        if dispute == "won":
            events.append(dispute_event("funds_reinstated", dp, pi, amount, currency=currency))
        if dispute in ("lost", "won"):
            events.append(
                dispute_event("closed", dp, pi, amount, currency=currency, status=dispute)
            )
    return events


def _paid_intent(e: dict[str, Any]) -> str | None:
    obj = e["data"]["object"]
    if e["type"] == "checkout.session.async_payment_succeeded" or (
        e["type"] == "checkout.session.completed" and obj["payment_status"] == "paid"
    ):
        return str(obj["payment_intent"])
    return None


def _disputes_after_payment(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A dispute is opened on a settled payment, days after it: whatever the order of
    deliveries, it comes after its payment's paying event (the ledger counts a dispute
    only about a payment it counts, and a dispute carries no metadata of its own)."""
    out: list[dict[str, Any]] = []
    paid: set[str] = set()
    waiting: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        if (
            e["type"].startswith("charge.dispute.")
            and e["data"]["object"]["payment_intent"] not in paid
        ):
            waiting.setdefault(e["data"]["object"]["payment_intent"], []).append(e)
            continue
        out.append(e)
        intent = _paid_intent(e)
        if intent is not None:
            paid.add(intent)
            out += waiting.pop(intent, [])
    return out


@st.composite
def event_streams(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the stream once, in order; the same events each 1-3 times, shuffled, disputes
    after their payment)."""
    count = draw(st.integers(min_value=1, max_value=6))
    in_order = [e for n in range(count) for e in draw(payment_story(n))]
    repeated = [e for e in in_order for _ in range(draw(st.integers(1, 3)))]
    return in_order, _disputes_after_payment(draw(st.permutations(repeated)))


async def _totals(folder: Path, events: list[dict[str, Any]]) -> dict[str, dict[str, Totals]]:
    config = donation_config(folder, [RUSSIA, BELARUS, TOKYO])
    async with open_database(folder / "ledger.sqlite3") as db:
        audience = offline_audience(config, db)
        donations = build_donations(config, db, audience, audience.outbox, environ={})
        for event in events:
            await donations.ledger.apply_event(event)
        return await donations.ledger.totals()


async def _both(in_order: list[dict[str, Any]], shuffled: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        expected = await _totals(Path(a), in_order)
        assert await _totals(Path(b), shuffled) == expected


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_streams())
def test_any_order_with_duplicates_gives_the_same_totals(
    streams: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    asyncio.run(_both(*streams))
