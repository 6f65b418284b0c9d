"""Stripe objects and events shaped from Stripe's own example objects.

`stripe_fixtures.json` holds one example of each resource the bot touches, as
the current API version returns it (from Stripe's OpenAPI repository, MIT; the
notice is in the file). Every object here starts from that example and
overrides only what a test cares about, so it carries every field the real API
gives, not a hand-picked subset.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

import stripe

API_VERSION = "2025-09-30.clover"
_FILE = Path(__file__).with_name("stripe_fixtures.json")


@cache
def _resources() -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = json.loads(_FILE.read_text(encoding="utf-8"))["resources"]
    return loaded


def resource(kind: str, **overrides: Any) -> dict[str, Any]:
    """A fresh copy of Stripe's example `kind` object with `overrides` applied."""
    obj = copy.deepcopy(_resources()[kind])
    obj.update(copy.deepcopy(overrides))
    return obj


# Fields of the example session that describe features the bot never turns on.
_SESSION_DEFAULTS: dict[str, Any] = {
    "after_expiration": None,
    "collected_information": None,
    "consent_collection": None,
    "currency_conversion": None,
    "custom_text": {
        "after_submit": None,
        "shipping_address": None,
        "submit": None,
        "terms_of_service_acceptance": None,
    },
    "customer_details": None,
    "invoice": None,
    "invoice_creation": None,
    "shipping_address_collection": None,
    "shipping_cost": None,
    "shipping_options": [],
    "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
    "ui_mode": "hosted",
}


def checkout_session(**overrides: Any) -> dict[str, Any]:
    return resource("checkout.session", **{**_SESSION_DEFAULTS, **overrides})


def charge(**overrides: Any) -> dict[str, Any]:
    defaults = {"captured": True, "paid": True, "status": "succeeded", "refunds": None}
    return resource("charge", **{**defaults, **overrides})


_event_ids = itertools.count(1)


def event(
    kind: str,
    obj: dict[str, Any],
    *,
    created: int | None = None,
    livemode: bool = False,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A v1 snapshot event as Stripe sends and lists it."""
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return resource(
        "event",
        id=f"evt_test_{next(_event_ids):08d}",
        api_version=API_VERSION,
        created=int(time.time()) if created is None else created,
        type=kind,
        livemode=livemode,
        pending_webhooks=1,
        request={"id": None, "idempotency_key": None},
        data=data,
    )


def session_object(
    session_id: str,
    amount: int,
    currency: str = "usd",
    *,
    campaign: str | None = "russia",
    payment_intent: str | None = None,
    paid: bool = True,
    thank_token: str | None = None,
    source: str | None = "outreach-bot",
) -> dict[str, Any]:
    """A completed Checkout Session for a donation (metadata as the bot sets it, with its
    `source` marker; `source=None` for a payment the bot did not make)."""
    metadata = {} if campaign is None else {"campaign": campaign, "earmark": f"for {campaign}"}
    if source is not None:
        metadata["source"] = source
    if thank_token:
        metadata["thank_token"] = thank_token
    return checkout_session(
        id=session_id,
        mode="payment",
        submit_type="donate",
        amount_subtotal=amount,
        amount_total=amount,
        currency=currency,
        payment_status="paid" if paid else "unpaid",
        status="complete",
        payment_intent=payment_intent or "pi_" + session_id.removeprefix("cs_"),
        metadata=metadata,
        url=None,
    )


def checkout_completed(
    session_id: str, amount: int, currency: str = "usd", **kw: Any
) -> dict[str, Any]:
    return event("checkout.session.completed", session_object(session_id, amount, currency, **kw))


def async_succeeded(
    session_id: str, amount: int, currency: str = "usd", **kw: Any
) -> dict[str, Any]:
    obj = session_object(session_id, amount, currency, **kw)
    return event("checkout.session.async_payment_succeeded", obj)


def async_failed(session_id: str, amount: int, currency: str = "usd", **kw: Any) -> dict[str, Any]:
    obj = session_object(session_id, amount, currency, paid=False, **kw)
    return event("checkout.session.async_payment_failed", obj)


def charge_refunded(
    charge_id: str,
    payment_intent: str,
    amount: int,
    refunded: int,
    currency: str = "usd",
    *,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A refund of a charge; by default of one of the bot's one-off payments, whose charge
    carries the PaymentIntent's metadata (marker included), as Stripe copies it."""
    obj = charge(
        id=charge_id,
        amount=amount,
        amount_captured=amount,
        amount_refunded=refunded,
        refunded=refunded >= amount,
        currency=currency,
        payment_intent=payment_intent,
        metadata={"source": "outreach-bot"} if metadata is None else metadata,
    )
    return event("charge.refunded", obj)


def dispute_event(
    kind: str,
    dispute_id: str,
    payment_intent: str,
    amount: int,
    *,
    currency: str = "usd",
    status: str = "needs_response",
) -> dict[str, Any]:
    """`kind` is created, funds_withdrawn, funds_reinstated or closed."""
    obj = resource(
        "dispute",
        id=dispute_id,
        amount=amount,
        currency=currency,
        charge="ch_" + payment_intent.removeprefix("pi_"),
        payment_intent=payment_intent,
        status=status,
        reason="fraudulent",
    )
    return event(f"charge.dispute.{kind}", obj)


def invoice_object(
    invoice_id: str,
    subscription_id: str,
    amount: int,
    currency: str = "usd",
    *,
    metadata: dict[str, str] | None = None,
    billing_reason: str = "subscription_cycle",
    livemode: bool = False,
) -> dict[str, Any]:
    """A paid subscription invoice; the subscription's metadata is on `parent`, as in the
    current API version (the invoice's own `metadata` stays empty)."""
    example = resource("invoice")
    line = example["lines"]["data"][0]
    line.update(
        amount=amount,
        currency=currency,
        invoice=invoice_id,
        livemode=livemode,
        subtotal=amount,
        parent={
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": subscription_id,
                "subscription_item": "si_" + subscription_id.removeprefix("sub_"),
            },
        },
    )
    lines = {**example["lines"], "data": [line], "url": f"/v1/invoices/{invoice_id}/lines"}
    return resource(
        "invoice",
        id=invoice_id,
        amount_due=amount,
        amount_paid=amount,
        amount_remaining=0,
        attempt_count=1,
        attempted=True,
        billing_reason=billing_reason,
        currency=currency,
        from_invoice=None,
        last_finalization_error=None,
        lines=lines,
        livemode=livemode,
        metadata={},
        parent={
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {"metadata": metadata or {}, "subscription": subscription_id},
        },
        status="paid",
        subtotal=amount,
        total=amount,
    )


def invoice_payment(invoice: dict[str, Any], payment_intent: str) -> dict[str, Any]:
    """The `invoice_payment` object of a paid invoice: what ties the invoice to the
    PaymentIntent a later refund or dispute names (the invoice itself no longer says)."""
    now = int(time.time())
    return {
        "id": "inpay_" + invoice["id"].removeprefix("in_"),
        "object": "invoice_payment",
        "amount_paid": invoice["amount_paid"],
        "amount_requested": invoice["amount_due"],
        "created": now,
        "currency": invoice["currency"],
        "invoice": invoice["id"],
        "is_default": True,
        "livemode": invoice["livemode"],
        "payment": {"type": "payment_intent", "payment_intent": payment_intent},
        "status": "paid",
        "status_transitions": {"canceled_at": None, "paid_at": now},
    }


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe would send for `payload`."""
    header: str = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=timestamp
    )
    return header


def body(e: dict[str, Any]) -> str:
    return json.dumps(e)
