"""Only the bot's own payments count, only in the key's mode; donations counted as shown."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.donations.report import progress_json, write_csv
from bot.storage import Database
from bot.storage import ledger as lq
from tests.donations.conftest import RUSSIA, Harness, donation_config, make_harness
from tests.fakes.stripe_api import FakeStripe, charge_refunded, checkout_completed, event

LIVE_ENV = {"STRIPE_SECRET_KEY": "sk_live_fake_key_for_tests"}


@pytest.fixture
async def on_stripe(tmp_path: Path, db: Database) -> AsyncIterator[Harness]:
    h = make_harness(donation_config(tmp_path, [RUSSIA], provider="stripe"), db)
    try:
        yield h
    finally:
        await h.donations.aclose()


async def test_a_test_key_ignores_live_events_and_logs_it_once(
    on_stripe: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness = on_stripe
    live = checkout_completed("cs_live_1", 5000)
    live["livemode"] = True
    other = checkout_completed("cs_live_2", 5000)
    other["livemode"] = True
    with caplog.at_level(logging.WARNING):
        assert await harness.apply(live, other) == 0
    assert [r.getMessage() for r in caplog.records].count(
        "ignoring Stripe events from live mode: the configured key is a test-mode key (logged once)"
    ) == 1
    assert await harness.apply(checkout_completed("cs_test_1", 700)) == 1
    assert await harness.raised("russia") == 700
    report = await progress_json(harness.donations.ledger)
    assert report["mode"] == "test"
    out = io.StringIO()
    write_csv(await lq.all_entries(harness.db), out)
    header, row = out.getvalue().splitlines()
    assert header.split(",")[-2:] == ["mode", "subscription"]
    assert row.split(",")[-2:] == ["test", ""]


async def test_a_live_key_ignores_test_events(tmp_path: Path, db: Database) -> None:
    config = donation_config(tmp_path, [RUSSIA], provider="stripe", environ=LIVE_ENV)
    h = make_harness(config, db, environ=LIVE_ENV)
    try:
        assert await h.apply(checkout_completed("cs_test_1", 5000)) == 0
        live = checkout_completed("cs_live_1", 900)
        live["livemode"] = True
        assert await h.apply(live) == 1
        assert await h.raised("russia") == 900
        assert (await progress_json(h.donations.ledger))["mode"] == "live"
    finally:
        await h.donations.aclose()


async def test_payments_the_bot_did_not_make_change_nothing_and_message_nobody(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    foreign = [
        checkout_completed("cs_shop_1", 2500, source=None, campaign=None, payment_intent="pi_s1"),
        checkout_completed("cs_shop_2", 4000, source=None, payment_intent="pi_s2"),
        charge_refunded("ch_s1", "pi_s1", 2500, 2500, metadata={}),
        event(
            "charge.dispute.funds_withdrawn",
            {
                "id": "dp_s2",
                "object": "dispute",
                "amount": 4000,
                "currency": "usd",
                "payment_intent": "pi_s2",
            },
        ),
    ]
    with caplog.at_level(logging.INFO):
        assert await harness.apply(*foreign) == 0
        await harness.deliver()
        assert harness.admin() == []
        assert await lq.all_entries(harness.db) == []
        assert await harness.donations.ledger.totals() == {}
        # One summary line a day, not a line (or a message) per payment.
        harness.clock.now += 24 * 3600
        await harness.apply(checkout_completed("cs_shop_3", 100, source=None))
    summaries = [r.getMessage() for r in caplog.records if "did not create" in r.getMessage()]
    assert summaries == [
        "skipped Stripe objects the bot did not create (no source=outreach-bot marker): "
        "dispute_withdrawn 1, payment 2, refund 1"
    ]


async def test_a_marked_payment_for_an_unknown_campaign_is_reported_once(
    harness: Harness,
) -> None:
    stray = checkout_completed("cs_x", 2500, campaign="nowhere")
    await harness.apply(stray, stray)
    await harness.deliver()
    (notice,) = harness.admin()
    assert "cs_x" in notice
    assert (await harness.donations.ledger.totals())["unassigned"]["USD"].net == 2500


async def test_a_fully_refunded_gift_is_no_longer_counted(harness: Harness) -> None:
    await harness.apply(
        checkout_completed("cs_1", 5000, payment_intent="pi_1"),
        checkout_completed("cs_2", 3000, payment_intent="pi_2"),
        charge_refunded("ch_1", "pi_1", 5000, 5000),
        charge_refunded("ch_2", "pi_2", 3000, 1000),  # partly refunded: still a donation
    )
    (progress,) = await harness.donations.ledger.progress(["russia"])
    assert (progress.raised, progress.donations) == (2000, 1 + 0 + 1 - 1)


async def test_first_reconciliation_over_a_busy_shared_account_is_quiet(
    tmp_path: Path, db: Database, fake_stripe: FakeStripe
) -> None:
    config = donation_config(
        tmp_path, [RUSSIA], provider="stripe", stripe={"api_base": fake_stripe.base_url}
    )
    h = make_harness(config, db)
    try:
        for n in range(40):
            fake_stripe.add_event(checkout_completed(f"cs_m{n}", 1200, campaign=None, source=None))
        fake_stripe.add_event(checkout_completed("cs_ours", 5000))
        reconciler = h.donations.reconciler
        assert reconciler is not None
        result = await reconciler.pass_once()
        assert (result.events, result.new_entries) == (41, 1)
        await h.deliver()
        assert h.admin() == []
        assert await h.raised("russia") == 5000
    finally:
        await h.donations.aclose()
