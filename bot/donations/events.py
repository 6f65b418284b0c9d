"""Stripe events (as plain JSON dicts) to ledger facts. Pure: no I/O, no `stripe` import.

Each fact is keyed by the Stripe object it is about and its kind, so the same
event delivered twice, or two events about the same payment
(`checkout.session.completed` and `..._async_payment_succeeded`), give one entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

log = logging.getLogger(__name__)

PAYMENT = "payment"
PAYMENT_FAILED = "payment_failed"
REFUND = "refund"
DISPUTE_OPENED = "dispute_opened"
DISPUTE_WITHDRAWN = "dispute_withdrawn"
DISPUTE_REINSTATED = "dispute_reinstated"
GIFT = "gift"
GIFT_VOID = "gift_void"
INVOICE_PAYMENT = "invoice_payment"  # ties a monthly invoice to the PaymentIntent it was paid by
SUBSCRIPTION_ENDED = "subscription_ended"
SUBSCRIPTION_STARTED = "subscription_started"  # never an entry: only a thank-you may follow

# Every Checkout Session and subscription the bot creates carries this metadata entry
# (beside `campaign` and `earmark`), so the ledger can tell them from everything else
# on the same Stripe account.
SOURCE_KEY = "source"
SOURCE_VALUE = "outreach-bot"


@dataclass(frozen=True, slots=True)
class Fact:
    """Something about money that a Stripe event tells us, ready for the ledger.

    `campaign` is what the object's metadata says (None if it says nothing);
    the ledger decides whether that campaign exists.
    """

    object_id: str
    kind: str
    amount: int
    currency: str
    occurred_at: float
    event_id: str
    variant: str = ""
    campaign: str | None = None
    payment_intent: str | None = None
    thank_token: str | None = None
    livemode: bool | None = None  # set from the event by `facts_from_event`
    marked: bool = False  # the metadata says the bot made it (source = outreach-bot)
    subscription: str | None = None


class MalformedEvent(ValueError):
    """An event lacks a field the ledger needs."""


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"missing {key}")
    return value


def _int(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedEvent(f"missing {key}")
    return value


def _optional_id(obj: Mapping[str, Any], key: str) -> str | None:
    """An expandable field: an id, an expanded object with an id, or nothing."""
    value = obj.get(key)
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _metadata(obj: Mapping[str, Any], key: str, where: str = "metadata") -> str | None:
    metadata = obj.get(where)
    if not isinstance(metadata, Mapping):
        return None
    value = metadata.get(key)
    return value if isinstance(value, str) and value else None


def _marked(metadata_owner: Mapping[str, Any]) -> bool:
    return _metadata(metadata_owner, SOURCE_KEY) == SOURCE_VALUE


def _session_payment(event_id: str, when: float, s: Mapping[str, Any], kind: str) -> Fact:
    return Fact(
        object_id=_str(s, "id"),
        kind=kind,
        amount=_int(s, "amount_total"),
        currency=_str(s, "currency").upper(),
        occurred_at=when,
        event_id=event_id,
        campaign=_metadata(s, "campaign"),
        payment_intent=_optional_id(s, "payment_intent"),
        thank_token=_metadata(s, "thank_token"),
        marked=_marked(s),
    )


def _session_completed(event_id: str, when: float, s: Mapping[str, Any]) -> list[Fact]:
    if s.get("mode") == "subscription":
        # The money of a monthly gift is counted from its invoices (`invoice.paid`); the
        # completed session only says the donor may be thanked.
        return [
            Fact(
                object_id=_str(s, "id"),
                kind=SUBSCRIPTION_STARTED,
                amount=0,
                currency=_str(s, "currency").upper(),
                occurred_at=when,
                event_id=event_id,
                campaign=_metadata(s, "campaign"),
                thank_token=_metadata(s, "thank_token"),
                marked=_marked(s),
                subscription=_optional_id(s, "subscription"),
            )
        ]
    # Delayed payment methods complete the session unpaid; the money counts only
    # when `checkout.session.async_payment_succeeded` says it arrived.
    if s.get("payment_status") != "paid":
        return []
    return [_session_payment(event_id, when, s, PAYMENT)]


def _async_succeeded(event_id: str, when: float, s: Mapping[str, Any]) -> list[Fact]:
    return [_session_payment(event_id, when, s, PAYMENT)]


def _async_failed(event_id: str, when: float, s: Mapping[str, Any]) -> list[Fact]:
    return [_session_payment(event_id, when, s, PAYMENT_FAILED)]


def _charge_refunded(event_id: str, when: float, c: Mapping[str, Any]) -> list[Fact]:
    # `amount_refunded` is the charge's cumulative refund: each value is its own entry
    # and the sum takes the largest, so repeats and reordering change nothing.
    refunded = _int(c, "amount_refunded")
    return [
        Fact(
            object_id=_str(c, "id"),
            kind=REFUND,
            variant=str(refunded),
            amount=refunded,
            currency=_str(c, "currency").upper(),
            occurred_at=when,
            event_id=event_id,
            campaign=_metadata(c, "campaign"),
            payment_intent=_optional_id(c, "payment_intent"),
            marked=_marked(c),
        )
    ]


def _dispute(kind: str) -> Callable[[str, float, Mapping[str, Any]], list[Fact]]:
    def facts(event_id: str, when: float, d: Mapping[str, Any]) -> list[Fact]:
        return [
            Fact(
                object_id=_str(d, "id"),
                kind=kind,
                amount=_int(d, "amount"),
                currency=_str(d, "currency").upper(),
                occurred_at=when,
                event_id=event_id,
                payment_intent=_optional_id(d, "payment_intent"),
            )
        ]

    return facts


def _dispute_closed(event_id: str, when: float, d: Mapping[str, Any]) -> list[Fact]:
    # A lost dispute means the funds were withdrawn; recording it under the same key as
    # `funds_withdrawn` keeps the loss counted once whichever event arrives.
    if d.get("status") != "lost":
        return []
    return _dispute(DISPUTE_WITHDRAWN)(event_id, when, d)


def _invoice_paid(event_id: str, when: float, inv: Mapping[str, Any]) -> list[Fact]:
    # In the current API version a subscription's metadata is copied onto its invoices
    # under parent.subscription_details; the invoice's own metadata stays empty.
    parent = inv.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, Mapping) else None
    if not isinstance(details, Mapping):
        return []  # not a subscription's invoice: never one of the bot's gifts
    amount = _int(inv, "amount_paid")
    if amount == 0:
        return []
    return [
        Fact(
            object_id=_str(inv, "id"),
            kind=PAYMENT,
            amount=amount,
            currency=_str(inv, "currency").upper(),
            occurred_at=when,
            event_id=event_id,
            campaign=_metadata(details, "campaign"),
            marked=_marked(details),
            subscription=_optional_id(details, "subscription"),
            payment_intent=_invoice_intent(inv),
        )
    ]


def _invoice_intent(inv: Mapping[str, Any]) -> str | None:
    """The PaymentIntent of an invoice whose `payments` were included, else None."""
    payments = inv.get("payments")
    data = payments.get("data") if isinstance(payments, Mapping) else None
    for payment in data if isinstance(data, list) else []:
        inner = payment.get("payment") if isinstance(payment, Mapping) else None
        if isinstance(inner, Mapping) and _optional_id(inner, "payment_intent"):
            return _optional_id(inner, "payment_intent")
    return None


def _invoice_payment_paid(event_id: str, when: float, p: Mapping[str, Any]) -> list[Fact]:
    payment = p.get("payment")
    intent = _optional_id(payment, "payment_intent") if isinstance(payment, Mapping) else None
    invoice = _optional_id(p, "invoice")
    if intent is None or invoice is None:
        return []
    return [
        Fact(
            object_id=invoice,
            kind=INVOICE_PAYMENT,
            amount=_int(p, "amount_paid"),
            currency=_str(p, "currency").upper(),
            occurred_at=when,
            event_id=event_id,
            payment_intent=intent,
        )
    ]


def _subscription_deleted(event_id: str, when: float, sub: Mapping[str, Any]) -> list[Fact]:
    sub_id = _str(sub, "id")
    return [
        Fact(
            object_id=sub_id,
            kind=SUBSCRIPTION_ENDED,
            amount=0,
            currency=_str(sub, "currency").upper(),
            occurred_at=when,
            event_id=event_id,
            campaign=_metadata(sub, "campaign"),
            marked=_marked(sub),
            subscription=sub_id,
        )
    ]


_HANDLERS: dict[str, Callable[[str, float, Mapping[str, Any]], list[Fact]]] = {
    "checkout.session.completed": _session_completed,
    "checkout.session.async_payment_succeeded": _async_succeeded,
    "checkout.session.async_payment_failed": _async_failed,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute(DISPUTE_OPENED),
    "charge.dispute.funds_withdrawn": _dispute(DISPUTE_WITHDRAWN),
    "charge.dispute.funds_reinstated": _dispute(DISPUTE_REINSTATED),
    "charge.dispute.closed": _dispute_closed,
    "invoice.paid": _invoice_paid,
    "invoice_payment.paid": _invoice_payment_paid,
    "customer.subscription.deleted": _subscription_deleted,
}

HANDLED_TYPES = tuple(_HANDLERS)


def facts_from_event(event: Mapping[str, Any]) -> list[Fact]:
    """The ledger facts in one Stripe event; [] for types the ledger ignores.

    Raises MalformedEvent when a handled event lacks what the ledger needs.
    """
    handler = _HANDLERS.get(str(event.get("type", "")))
    if handler is None:
        return []
    event_id = _str(event, "id")
    created = event.get("created")
    when = float(created) if isinstance(created, int | float) else 0.0
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        raise MalformedEvent("missing data.object")
    livemode = event.get("livemode")
    live = livemode if isinstance(livemode, bool) else None
    return [replace(f, livemode=live) for f in handler(event_id, when, obj)]
