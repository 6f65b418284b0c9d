"""The Stripe stand-in is at least as strict as Stripe, through the real stripe client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import stripe

from tests.fakes.stripe_api import FakeStripe
from tests.fakes.stripe_fixtures import resource

TEST_KEY = "sk_" + "test_" + "standin"


@pytest.fixture
async def client(fake_stripe: FakeStripe) -> AsyncIterator[stripe.StripeClient]:
    http = stripe.AIOHTTPClient(timeout=5)
    yield stripe.StripeClient(
        TEST_KEY,
        base_addresses={"api": fake_stripe.base_url},
        max_network_retries=0,
        http_client=http,
    )
    await http.close_async()  # type: ignore[no-untyped-call]


def donation(**changes: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 5000,
                    "product_data": {"name": "Gift"},
                },
                "quantity": 1,
            }
        ],
        "metadata": {"campaign": "russia", "source": "outreach-bot"},
        "payment_intent_data": {"metadata": {"campaign": "russia", "source": "outreach-bot"}},
        "success_url": "https://example.org/thanks",
    }
    params.update(changes)
    return params


def price_data(currency: str, amount: int) -> dict[str, Any]:
    data = {"currency": currency, "unit_amount": amount, "product_data": {"name": "Gift"}}
    return {"line_items": [{"price_data": data, "quantity": 1}]}


async def refused(client: stripe.StripeClient, params: dict[str, Any]) -> stripe.StripeError:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.checkout.sessions.create_async(params)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize(
    ("changes", "param", "code"),
    [
        ({"sucess_url": "https://x.example"}, "sucess_url", "parameter_unknown"),
        (
            {"payment_intent_data": {"metdata": {"a": "b"}}},
            "payment_intent_data[metdata]",
            "parameter_unknown",
        ),
        (
            {"line_items": [{"price_data": {"unit_amount": 5000}, "quantity": 1}]},
            "line_items[0][price_data][currency]",
            "parameter_missing",
        ),
        (price_data("usd", 49), "line_items", "amount_too_small"),
        (price_data("jpy", 49), "line_items", "amount_too_small"),
        (price_data("kwd", 1234), "line_items[0][price_data][unit_amount]", "amount_invalid"),
        (price_data("isk", 50050), "line_items[0][price_data][unit_amount]", "amount_invalid"),
        ({"subscription_data": {"metadata": {"a": "b"}}}, "subscription_data", None),
    ],
)
async def test_sessions_stripe_would_refuse(
    client: stripe.StripeClient,
    fake_stripe: FakeStripe,
    changes: dict[str, Any],
    param: str,
    code: str | None,
) -> None:
    error = await refused(client, donation(**changes))
    assert error.http_status == 400
    assert isinstance(error, stripe.InvalidRequestError)
    assert (error.param, error.code) == (param, code)
    assert fake_stripe.sessions == {}


@pytest.mark.parametrize(
    ("custom", "param"),
    [
        ({"enabled": True, "minimum": 10}, "custom_unit_amount[minimum]"),
        ({"enabled": True, "minimum": 500, "preset": 100}, "custom_unit_amount[preset]"),
        ({"enabled": True, "minimum": 500, "maximum": 1000, "preset": 5000}, None),
        ({"enabled": True, "minimum": 1000, "maximum": 500}, "custom_unit_amount[minimum]"),
    ],
)
async def test_any_amount_prices_keep_stripe_bounds(
    client: stripe.StripeClient, custom: dict[str, Any], param: str | None
) -> None:
    params: Any = {"currency": "usd", "custom_unit_amount": custom, "product_data": {"name": "G"}}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.prices.create_async(params)
    if param is not None:
        assert caught.value.param == param


async def test_objects_carry_every_field_and_the_key_s_mode(
    client: stripe.StripeClient, fake_stripe: FakeStripe
) -> None:
    session = await client.v1.checkout.sessions.create_async(donation())  # type: ignore[arg-type]
    assert set(session.to_dict()) == set(resource("checkout.session"))
    assert session.livemode is False
    assert session.id.startswith("cs_test_")
    live = stripe.StripeClient(
        "sk_" + "live_" + "standin",
        base_addresses={"api": fake_stripe.base_url},
        max_network_retries=0,
        http_client=stripe.AIOHTTPClient(timeout=5),
    )
    try:
        with pytest.raises(stripe.InvalidRequestError, match="exists in test mode") as caught:
            await live.v1.checkout.sessions.retrieve_async(session.id)
        assert caught.value.code == "resource_missing"
    finally:
        await live._requestor._get_http_client().close_async()  # type: ignore[no-untyped-call]


async def test_a_completed_session_publishes_its_events_and_reports_its_status(
    client: stripe.StripeClient, fake_stripe: FakeStripe
) -> None:
    session = await client.v1.checkout.sessions.create_async(donation())  # type: ignore[arg-type]
    completed = fake_stripe.complete_session(session.id)
    assert [e["type"] for e in fake_stripe.events] == [
        "checkout.session.completed",
        "payment_intent.succeeded",
        "charge.succeeded",
    ]
    paid = completed["data"]["object"]
    assert (paid["status"], paid["payment_status"], paid["amount_total"]) == (
        "complete",
        "paid",
        5000,
    )
    charge = fake_stripe.events[2]["data"]["object"]
    assert charge["payment_intent"] == paid["payment_intent"]
    assert charge["metadata"] == {"campaign": "russia", "source": "outreach-bot"}
    current = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert current.status == "complete"
    other = await client.v1.checkout.sessions.create_async(donation())  # type: ignore[arg-type]
    expired = fake_stripe.expire_session(other.id)
    assert expired["type"] == "checkout.session.expired"
    assert (await client.v1.checkout.sessions.retrieve_async(other.id)).status == "expired"
    # Stripe replays an idempotent request's first answer, not the object as it is now.
    first = await client.v1.checkout.sessions.create_async(
        donation(),
        {"idempotency_key": "k"},  # type: ignore[arg-type]
    )
    fake_stripe.complete_session(first.id)
    again = await client.v1.checkout.sessions.create_async(
        donation(),
        {"idempotency_key": "k"},  # type: ignore[arg-type]
    )
    assert (again.id, again.status) == (first.id, "open")


async def test_a_monthly_subscription_pays_an_invoice_each_month(
    client: stripe.StripeClient, fake_stripe: FakeStripe
) -> None:
    marker = {"campaign": "russia", "source": "outreach-bot"}
    recurring = {
        "currency": "usd",
        "unit_amount": 1000,
        "recurring": {"interval": "month"},
        "product_data": {"name": "Monthly gift"},
    }
    params: Any = {
        "mode": "subscription",
        "line_items": [{"price_data": recurring, "quantity": 1}],
        "metadata": marker,
        "subscription_data": {"metadata": marker},
        "success_url": "https://example.org/thanks",
    }
    session = await client.v1.checkout.sessions.create_async(params)
    fake_stripe.complete_session(session.id)
    first = next(e for e in fake_stripe.events if e["type"] == "invoice.paid")
    sub_id = fake_stripe.sessions[session.id]["subscription"]
    second = fake_stripe.renew_subscription(sub_id)
    for paid, reason in ((first, "subscription_create"), (second, "subscription_cycle")):
        invoice = paid["data"]["object"]
        assert (invoice["amount_paid"], invoice["billing_reason"]) == (1000, reason)
        assert invoice["parent"]["subscription_details"] == {
            "metadata": marker,
            "subscription": sub_id,
        }
        assert set(invoice) >= set(resource("invoice"))
    deleted = fake_stripe.cancel_subscription(sub_id)
    assert deleted["type"] == "customer.subscription.deleted"
    assert deleted["data"]["object"]["metadata"] == marker
    # A recurring price has no place in a one-off payment, and the reverse.
    wrong: Any = {**params, "mode": "payment", "subscription_data": None}
    del wrong["subscription_data"]
    assert (await refused(client, wrong)).param == "line_items[0]"
