"""StripeLinks against the Stripe stand-in, through the real stripe client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.chat import ChatRef
from bot.donations import ProviderError
from bot.donations.providers import SOURCE_KEY, SOURCE_VALUE
from bot.donations.stripe_links import StripeLinks
from bot.storage import Database
from bot.storage import thanks as tq
from tests.donations.conftest import RUSSIA, TOKYO, Harness, donation_config, make_harness
from tests.fakes.stripe_api import FakeStripe, checkout_completed

ALICE = ChatRef("console", "alice")


def stripe_harness(tmp_path: Path, db: Database, fake: FakeStripe, **stripe: Any) -> Harness:
    config = donation_config(
        tmp_path,
        [RUSSIA, TOKYO],
        provider="stripe",
        stripe={"api_base": fake.base_url, **stripe},
    )
    return make_harness(config, db)


@pytest.fixture
async def h(tmp_path: Path, db: Database, fake_stripe: FakeStripe) -> AsyncIterator[Harness]:
    harness = stripe_harness(tmp_path, db, fake_stripe)
    try:
        yield harness
    finally:
        await harness.donations.aclose()


async def test_a_checkout_session_carries_the_campaign_and_earmark_twice(
    h: Harness, fake_stripe: FakeStripe
) -> None:
    russia = h.donations.campaigns["russia"]
    url = await h.donations.link(russia, 5000, request_key="key-1")
    (call,) = fake_stripe.posts("/v1/checkout/sessions")
    session = fake_stripe.sessions[url.rsplit("/", 1)[-1]]
    assert url == session["url"]
    p = call.params
    metadata = {
        "campaign": "russia",
        "earmark": "for Russian anti-war protesters",
        SOURCE_KEY: SOURCE_VALUE,
    }
    assert metadata["source"] == "outreach-bot"
    assert p["metadata"] == metadata
    assert p["payment_intent_data"]["metadata"] == metadata
    assert p["mode"] == "payment"
    assert p["submit_type"] == "donate"
    item = p["line_items"][0]
    assert item["quantity"] == "1"
    assert item["price_data"]["unit_amount"] == "5000"
    assert item["price_data"]["currency"] == "usd"
    assert item["price_data"]["product_data"]["name"] == "Russian anti-war protesters"
    assert p["success_url"] == "https://example.org/thank-you"
    assert p["cancel_url"] == "https://example.org/donate"
    assert call.idempotency_key == "key-1"


async def test_a_repeated_tap_makes_one_session(h: Harness, fake_stripe: FakeStripe) -> None:
    russia = h.donations.campaigns["russia"]
    first = await h.donations.link(russia, 5000, request_key="key-1")
    again = await h.donations.link(russia, 5000, request_key="key-1")
    other = await h.donations.link(russia, 5000, request_key="key-2")
    assert first == again != other
    assert len(fake_stripe.sessions) == 2


async def test_zero_decimal_amounts_go_to_stripe_unscaled(
    h: Harness, fake_stripe: FakeStripe
) -> None:
    await h.donations.link(h.donations.campaigns["tokyo"], 5000, request_key="k")
    (call,) = fake_stripe.posts("/v1/checkout/sessions")
    assert call.params["line_items"][0]["price_data"] == {
        "currency": "jpy",
        "unit_amount": "5000",
        "product_data": {"name": "Tokyo shelter", "description": "for the Tokyo shelter"},
    }


async def test_any_amount_uses_one_customer_chosen_price_per_campaign(
    tmp_path: Path, db: Database, h: Harness, fake_stripe: FakeStripe
) -> None:
    russia = h.donations.campaigns["russia"]
    await h.donations.link(russia, None, request_key="a")
    await h.donations.link(russia, None, request_key="b")
    (price_call,) = fake_stripe.posts("/v1/prices")
    # The smallest amount a donor may choose is Stripe's minimum charge for the currency.
    assert price_call.params["custom_unit_amount"] == {
        "enabled": "true",
        "minimum": "50",
        "preset": "5000",
    }
    assert price_call.params["currency"] == "usd"
    (price_id,) = fake_stripe.prices
    sessions = fake_stripe.posts("/v1/checkout/sessions")
    assert [s.params["line_items"][0] for s in sessions] == [
        {"price": price_id, "quantity": "1"}
    ] * 2
    # A restart reuses the stored price.
    again = stripe_harness(tmp_path, db, fake_stripe)
    try:
        await again.donations.link(russia, None, request_key="c")
    finally:
        await again.donations.aclose()
    assert len(fake_stripe.posts("/v1/prices")) == 1


async def test_a_5xx_is_retried_with_the_same_idempotency_key(
    h: Harness, fake_stripe: FakeStripe
) -> None:
    fake_stripe.fail_next(1, 500)
    await h.donations.link(h.donations.campaigns["russia"], 5000, request_key="key-1")
    calls = fake_stripe.posts("/v1/checkout/sessions")
    assert [c.idempotency_key for c in calls] == ["key-1", "key-1"]
    assert len(fake_stripe.sessions) == 1


async def test_stripe_down_is_a_clear_transient_error(
    tmp_path: Path, db: Database, fake_stripe: FakeStripe
) -> None:
    h = stripe_harness(tmp_path, db, fake_stripe, max_network_retries=0)
    try:
        for status in (500, 429):
            fake_stripe.fail_next(1, status)
            with pytest.raises(ProviderError, match="not answering") as caught:
                await h.donations.link(h.donations.campaigns["russia"], 5000, request_key="k")
            assert caught.value.transient
    finally:
        await h.donations.aclose()


async def test_a_refusal_shows_a_reference_and_only_the_log_says_what_stripe_said(
    h: Harness, fake_stripe: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    said = "No such price: 'price_1'; a similar object exists in test mode, but a live mode key"
    fake_stripe.fail_next(1, 400, code="resource_missing", message=said)
    with pytest.raises(ProviderError) as caught:
        await h.donations.link(h.donations.campaigns["russia"], 5000, request_key="k")
    shown = str(caught.value)
    assert not caught.value.transient
    assert "test mode" not in shown
    assert "price_1" not in shown
    reference = re.fullmatch(
        r"Payments are not working right now; the organisers can look it up as ([0-9a-f]{8})\.",
        shown,
    )
    assert reference is not None
    (line,) = [r.getMessage() for r in caplog.records if reference[1] in r.getMessage()]
    assert said in line


async def test_an_amount_stripe_finds_too_small_is_explained(
    h: Harness, fake_stripe: FakeStripe
) -> None:
    # The stand-in refuses it as Stripe does (the bot's own check is bypassed here).
    with pytest.raises(ProviderError, match="below the smallest payment") as caught:
        await h.donations.link(h.donations.campaigns["russia"], 10, request_key="k")
    assert not caught.value.transient


async def test_tell_me_when_it_arrives_puts_a_token_in_the_session_and_thanks_once(
    h: Harness, fake_stripe: FakeStripe
) -> None:
    russia = h.donations.campaigns["russia"]
    url = await h.donations.link(russia, 5000, request_key="tap", notify_chat=ALICE)
    again = await h.donations.link(russia, 5000, request_key="tap", notify_chat=ALICE)
    assert url == again
    session = fake_stripe.sessions[url.rsplit("/", 1)[-1]]
    token = session["metadata"]["thank_token"]
    assert len(token) >= 16
    assert (
        "thank_token"
        not in fake_stripe.posts("/v1/checkout/sessions")[0].params["payment_intent_data"][
            "metadata"
        ]
    )
    paid = checkout_completed(session["id"], 5000, thank_token=token)
    await h.apply(paid, paid)
    await h.deliver()
    assert len(h.adapter.texts("alice")) == 1
    assert await tq.thank_link_count(h.db) == 0
    # Tapping again after the link was used makes a new session instead of failing.
    await h.donations.link(russia, 5000, request_key="tap", notify_chat=ALICE)
    assert len(fake_stripe.sessions) == 2


async def test_the_provider_is_stripe_links(h: Harness) -> None:
    assert isinstance(h.donations.providers["stripe"], StripeLinks)
    assert h.donations.providers["stripe"].confirms_payments


def _live_key() -> str:
    return "sk_" + "live_" + "fake_key_for_tests"


async def test_a_live_key_does_not_use_the_test_mode_price(
    tmp_path: Path, db: Database, fake_stripe: FakeStripe
) -> None:
    russia = RUSSIA["id"]
    test = stripe_harness(tmp_path, db, fake_stripe)
    try:
        await test.donations.link(test.donations.campaigns[russia], None, request_key="a")
    finally:
        await test.donations.aclose()
    config = donation_config(
        tmp_path,
        [RUSSIA, TOKYO],
        provider="stripe",
        stripe={"api_base": fake_stripe.base_url},
        environ={"STRIPE_SECRET_KEY": _live_key()},
    )
    live = make_harness(config, db, environ={"STRIPE_SECRET_KEY": _live_key()})
    try:
        url = await live.donations.link(live.donations.campaigns[russia], None, request_key="b")
    finally:
        await live.donations.aclose()
    session = fake_stripe.sessions[url.rsplit("/", 1)[-1]]
    assert session["livemode"] is True
    modes = sorted(price["livemode"] for price in fake_stripe.prices.values())
    assert modes == [False, True]


async def test_a_price_stripe_no_longer_has_is_made_again(
    tmp_path: Path, h: Harness, db: Database, fake_stripe: FakeStripe
) -> None:
    russia = h.donations.campaigns["russia"]
    await h.donations.link(russia, None, request_key="a")
    (gone,) = fake_stripe.prices
    del fake_stripe.prices[gone]  # deleted in the dashboard, say
    url = await h.donations.link(russia, None, request_key="b")
    (made,) = fake_stripe.prices
    assert made != gone
    session_call = fake_stripe.posts("/v1/checkout/sessions")[-1]
    assert session_call.params["line_items"][0]["price"] == made
    assert fake_stripe.sessions[url.rsplit("/", 1)[-1]]["status"] == "open"
    # A restart finds the new one.
    again = stripe_harness(tmp_path, db, fake_stripe)
    try:
        await again.donations.link(russia, None, request_key="c")
    finally:
        await again.donations.aclose()
    assert len(fake_stripe.posts("/v1/prices")) == 2
    assert fake_stripe.posts("/v1/checkout/sessions")[-1].params["line_items"][0]["price"] == made


async def test_a_paid_or_expired_session_is_never_handed_out_again(
    h: Harness, fake_stripe: FakeStripe
) -> None:
    russia = h.donations.campaigns["russia"]
    first = await h.donations.link(russia, 5000, request_key="tap")
    assert await h.donations.link(russia, 5000, request_key="tap") == first
    fake_stripe.complete_session(first.rsplit("/", 1)[-1])
    second = await h.donations.link(russia, 5000, request_key="tap")
    assert second != first
    fake_stripe.expire_session(second.rsplit("/", 1)[-1])
    third = await h.donations.link(russia, 5000, request_key="tap")
    assert third not in {first, second}
    assert fake_stripe.sessions[third.rsplit("/", 1)[-1]]["status"] == "open"
