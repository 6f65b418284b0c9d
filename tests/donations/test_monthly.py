"""Monthly giving end to end through the Stripe stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.chat.plain import render_plain
from bot.config import ConfigError
from bot.donations.report import progress_json
from bot.storage import Database
from tests.donations.conftest import RUSSIA, Harness, donation_config, make_harness
from tests.donations.test_donate import Chat, commands, make_router
from tests.fakes.stripe_api import FakeStripe

PORTAL = "https://billing.stripe.com/p/login/test_portal"
MONTHLY = {**RUSSIA, "monthly": True, "monthly_amounts": [5, 10, 25]}


@pytest.fixture
async def h(tmp_path: Path, db: Database, fake_stripe: FakeStripe) -> AsyncIterator[Harness]:
    config = donation_config(
        tmp_path,
        [MONTHLY],
        provider="stripe",
        stripe={"api_base": fake_stripe.base_url, "portal_url": PORTAL},
    )
    harness = make_harness(config, db)
    try:
        yield harness
    finally:
        await harness.donations.aclose()


async def replay(h: Harness, fake: FakeStripe, seen: set[str]) -> None:
    """Deliver every event Stripe published since the last call, oldest first."""
    for e in reversed(fake.events):
        if e["id"] not in seen:
            seen.add(e["id"])
            await h.donations.ledger.apply_event(e)


async def test_a_monthly_gift_end_to_end(h: Harness, fake_stripe: FakeStripe) -> None:
    chat = Chat(make_router(h), user="donor")
    menu = await chat.send("/donate russia")
    assert "/donate russia monthly" in commands(menu)
    monthly = await chat.send("/donate russia monthly")
    assert commands(monthly) == [f"/donate russia {n} monthly" for n in (5, 10, 25)]
    reply = render_plain(await chat.send("/donate russia 10 monthly notify"))
    assert PORTAL in reply
    (call,) = fake_stripe.posts("/v1/checkout/sessions")
    p: dict[str, Any] = call.params
    assert p["mode"] == "subscription"
    assert p["line_items"][0]["price_data"]["recurring"] == {"interval": "month"}
    assert p["line_items"][0]["price_data"]["unit_amount"] == "1000"
    assert p["subscription_data"]["metadata"] == {
        "campaign": "russia",
        "earmark": "for Russian anti-war protesters",
        "source": "outreach-bot",
    }
    session_id = reply.split("/c/pay/")[1].split()[0]
    seen: set[str] = set()
    fake_stripe.complete_session(session_id)
    await replay(h, fake_stripe, seen)
    await h.deliver()
    (thanks,) = h.adapter.texts("donor")
    assert PORTAL in thanks
    (progress,) = await h.donations.ledger.progress(["russia"])
    assert (progress.raised, progress.monthly_supporters, progress.monthly_amount) == (
        1000,
        1,
        1000,
    )
    (sub_id,) = fake_stripe.subscriptions
    fake_stripe.renew_subscription(sub_id)
    await replay(h, fake_stripe, seen)
    assert await h.raised("russia") == 2000
    text = render_plain(await chat.send("/progress"))
    assert (
        "1 monthly supporter (≈ $10.00 a month)" in text
        or "1 monthly supporter (≈ $10 a month)" in text
    )
    # A refund of one month's payment is found through its invoice.
    first_month = next(iter(fake_stripe.charges))  # the charge of the first invoice
    fake_stripe.refund(first_month)
    await replay(h, fake_stripe, seen)
    assert await h.raised("russia") == 1000
    report = await progress_json(h.donations.ledger)
    assert report["campaigns"][0]["monthly_supporters"] == 1
    assert report["campaigns"][0]["monthly_amount"] == 1000
    fake_stripe.cancel_subscription(sub_id)
    await replay(h, fake_stripe, seen)
    (progress,) = await h.donations.ledger.progress(["russia"])
    assert (progress.monthly_supporters, progress.monthly_amount) == (0, 0)
    assert await h.raised("russia") == 1000  # what was given stays given
    assert "customer" not in str(await h.db.fetch_all("SELECT * FROM ledger_entries"))
    assert "cus_" not in str(await h.db.fetch_all("SELECT * FROM ledger_entries"))


async def test_static_campaigns_offer_monthly_only_with_a_monthly_url(
    tmp_path: Path, db: Database
) -> None:
    h = make_harness(donation_config(tmp_path, [MONTHLY]), db)
    assert "/donate russia monthly" not in commands(await Chat(make_router(h)).send("/donate"))
    monthly_url = "https://donate.example.org/monthly?c={campaign}&a={amount}"
    h2 = make_harness(
        donation_config(
            tmp_path,
            [MONTHLY],
            donations={
                "static_url": "https://d.example.org/?c={campaign}",
                "static_monthly_url": monthly_url,
            },
        ),
        db,
    )
    chat = Chat(make_router(h2))
    assert "/donate russia monthly" in commands(await chat.send("/donate"))
    reply = render_plain(await chat.send("/donate russia 25 monthly"))
    assert "https://donate.example.org/monthly?c=russia&a=25" in reply


def test_monthly_amounts_follow_stripes_rules(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"monthly_amounts\[0\]"):
        donation_config(tmp_path, [{**MONTHLY, "monthly_amounts": [0.3]}])
