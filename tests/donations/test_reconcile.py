"""The reconciliation poller: Stripe's event list, a persisted cursor, the same ledger."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.donations.reconcile import CURSOR_KEY, Reconciler
from bot.storage import Database
from bot.storage.state import get_state, set_state
from tests.donations.conftest import RUSSIA, Harness, donation_config, make_harness
from tests.fakes.stripe_api import FakeStripe, charge_refunded, checkout_completed, event


@pytest.fixture
async def h(tmp_path: Path, db: Database, fake_stripe: FakeStripe) -> AsyncIterator[Harness]:
    config = donation_config(
        tmp_path,
        [RUSSIA],
        provider="stripe",
        stripe={"api_base": fake_stripe.base_url, "max_network_retries": 0},
    )
    harness = make_harness(config, db)
    try:
        yield harness
    finally:
        await harness.donations.aclose()


def reconciler(h: Harness, page_size: int = 2) -> Reconciler:
    r = h.donations.reconciler
    assert r is not None
    r.page_size = page_size  # small pages make the cursor walk several pages
    return r


async def test_a_first_pass_reads_every_event_oldest_first(
    h: Harness, fake_stripe: FakeStripe
) -> None:
    fake_stripe.add_event(charge_refunded("ch_1", "pi_1", 10000, 3000))
    for n in range(1, 6):
        fake_stripe.add_event(checkout_completed(f"cs_{n}", 10000, payment_intent=f"pi_{n}"))
    fake_stripe.add_event(event("customer.created", {"id": "cus_1", "object": "customer"}))
    result = await reconciler(h).pass_once()
    assert (result.events, result.new_entries) == (6, 6)
    assert await h.raised("russia") == 47000
    newest_handled = fake_stripe.events[1]["id"]  # the customer event is filtered out
    assert await get_state(h.db, CURSOR_KEY) == newest_handled
    listed = [c for c in fake_stripe.calls if c.path == "/v1/events"]
    assert "checkout.session.completed" in listed[0].params["types"]


async def test_later_passes_read_only_what_is_new(h: Harness, fake_stripe: FakeStripe) -> None:
    fake_stripe.add_event(checkout_completed("cs_1", 1000))
    r = reconciler(h)
    await r.pass_once()
    cursor = await get_state(h.db, CURSOR_KEY)
    for n in range(2, 7):
        fake_stripe.add_event(checkout_completed(f"cs_{n}", 1000))
    fake_stripe.calls.clear()
    result = await r.pass_once()
    assert (result.events, result.new_entries) == (5, 5)
    assert fake_stripe.calls[0].params["ending_before"] == cursor
    assert await get_state(h.db, CURSOR_KEY) == fake_stripe.events[0]["id"]
    assert (await r.pass_once()).events == 0
    assert await h.raised("russia") == 6000


async def test_an_unknown_cursor_rereads_everything_without_double_counting(
    h: Harness, fake_stripe: FakeStripe
) -> None:
    fake_stripe.add_event(checkout_completed("cs_1", 1000))
    r = reconciler(h)
    await r.pass_once()
    await set_state(h.db, CURSOR_KEY, "evt_long_gone")
    result = await r.pass_once()
    assert (result.events, result.new_entries) == (1, 0)
    assert await h.raised("russia") == 1000


async def test_the_poller_job_runs_until_stopped_and_survives_errors(
    h: Harness, fake_stripe: FakeStripe
) -> None:
    (job,) = h.donations.jobs()
    assert h.donations.webhook is None
    fake_stripe.fail_next(3, 500)
    fake_stripe.add_event(checkout_completed("cs_1", 2500))
    r = reconciler(h)
    r.interval = 0.05
    stop = asyncio.Event()
    task = asyncio.create_task(job(stop))
    try:
        async with asyncio.timeout(10):
            # The ledger is in SQLite: there is no event to wait on, so poll it.
            while await h.raised("russia") != 2500:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_webhook_mode_keeps_an_hourly_catch_up_of_failed_deliveries(
    tmp_path: Path, db: Database, fake_stripe: FakeStripe
) -> None:
    env = {"STRIPE_SECRET_KEY": "sk_test_fake_key_for_tests", "STRIPE_WEBHOOK_SECRET": "whsec_x"}
    config = donation_config(
        tmp_path, [RUSSIA], provider="stripe", stripe={"api_base": fake_stripe.base_url}
    )
    h = make_harness(config, db, environ=env)
    try:
        assert h.donations.webhook is not None
        assert len(h.donations.jobs()) == 1  # the catch-up pass (the [web] server has the route)
        r = h.donations.reconciler
        assert r is not None
        assert r.interval == 3600
        fake_stripe.add_event(checkout_completed("cs_delivered", 1000))
        fake_stripe.fail_delivery(fake_stripe.add_event(checkout_completed("cs_lost", 2500)))
        result = await r.pass_once()
        assert (result.events, result.new_entries) == (1, 1)
        assert await h.raised("russia") == 2500  # the delivered one came by webhook
        (listed,) = [c for c in fake_stripe.calls if c.path == "/v1/events"]
        assert listed.params["delivery_success"] == "false"
    finally:
        await h.donations.aclose()


def test_the_catch_up_interval_is_configurable(tmp_path: Path) -> None:
    config = donation_config(tmp_path, [RUSSIA], stripe={"catch_up": "15m"})
    assert config.stripe.catch_up == 900
