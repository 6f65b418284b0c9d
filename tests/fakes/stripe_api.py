"""A Stripe API stand-in on 127.0.0.1, driven by the real `stripe` client through `base_addresses`.

It speaks the parts of the API the bot uses: Checkout Sessions, Prices,
Payment Links (form-encoded POSTs, with Stripe's idempotency rules) and the
event list with its cursors. Tests can make the next calls fail with Stripe's
error JSON, build event payloads, and sign them as Stripe signs webhooks.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import stripe
from aiohttp import web

API_VERSION = "2025-09-30.clover"


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


@dataclass
class Call:
    """One request the stand-in received."""

    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None


@dataclass
class Failure:
    status: int
    error_type: str
    code: str | None
    message: str
    should_retry: bool | None


@dataclass
class FakeStripe:
    """State of the stand-in; tests read and steer it directly."""

    calls: list[Call] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_links: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # newest first, as Stripe lists
    failures: list[Failure] = field(default_factory=list)
    base_url: str = ""
    _idempotent: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = field(
        default_factory=dict
    )
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        *,
        code: str | None = None,
        message: str = "Something went wrong on Stripe's end.",
        should_retry: bool | None = None,
    ) -> None:
        """Make the next `n` calls answer `status` with Stripe's error JSON."""
        error_type = {400: "invalid_request_error", 401: "invalid_request_error"}.get(
            status, "api_error"
        )
        if status == 429:
            error_type, code = "invalid_request_error", code or "rate_limit"
        self.failures += [Failure(status, error_type, code, message, should_retry)] * n

    def add_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Publish an event in the list (it becomes the newest)."""
        self.events.insert(0, event)
        return event

    def posts(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and c.path == path]

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids):06d}"


def _error(f: Failure) -> web.Response:
    body: dict[str, Any] = {"type": f.error_type, "message": f.message}
    if f.code:
        body["code"] = f.code
    headers = {"Request-Id": "req_fake"}
    if f.should_retry is not None:
        headers["Stripe-Should-Retry"] = "true" if f.should_retry else "false"
    return web.json_response({"error": body}, status=f.status, headers=headers)


def _make_session(state: FakeStripe, p: dict[str, Any]) -> dict[str, Any]:
    item = (p.get("line_items") or [{}])[0]
    price_data = item.get("price_data") or {}
    price = state.prices.get(item.get("price", ""), {})
    session_id = state.new_id("cs")
    return {
        "id": session_id,
        "object": "checkout.session",
        "url": f"https://checkout.stripe.test/c/pay/{session_id}",
        "mode": p.get("mode"),
        "submit_type": p.get("submit_type"),
        "metadata": p.get("metadata", {}),
        "currency": price_data.get("currency") or price.get("currency"),
        "amount_total": int(price_data["unit_amount"]) if "unit_amount" in price_data else None,
        "payment_status": "unpaid",
        "status": "open",
        "payment_intent": None,
        "success_url": p.get("success_url"),
        "cancel_url": p.get("cancel_url"),
    }


def _make_price(state: FakeStripe, p: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": state.new_id("price"),
        "object": "price",
        "currency": p.get("currency"),
        "unit_amount": None,
        "custom_unit_amount": p.get("custom_unit_amount"),
        "product": state.new_id("prod"),
        "metadata": p.get("metadata", {}),
    }


def _make_payment_link(state: FakeStripe, p: dict[str, Any]) -> dict[str, Any]:
    link_id = state.new_id("plink")
    return {
        "id": link_id,
        "object": "payment_link",
        "url": f"https://buy.stripe.test/{link_id}",
        "metadata": p.get("metadata", {}),
        "line_items": p.get("line_items"),
    }


_CREATORS = {
    "/v1/checkout/sessions": ("sessions", _make_session),
    "/v1/prices": ("prices", _make_price),
    "/v1/payment_links": ("payment_links", _make_payment_link),
}


def _list_events(state: FakeStripe, q: dict[str, Any]) -> web.Response:
    types = q.get("types") or ([q["type"]] if "type" in q else [])
    events = [e for e in state.events if not types or e["type"] in types]
    ids = [e["id"] for e in events]
    limit = int(q.get("limit", 10))
    cursor = q.get("starting_after") or q.get("ending_before")
    if cursor is not None and cursor not in {e["id"] for e in state.events}:
        return _error(
            Failure(404, "invalid_request_error", "resource_missing", "No such event", None)
        )
    if "starting_after" in q:
        start = ids.index(cursor) + 1 if cursor in ids else len(ids)
        page, has_more = events[start : start + limit], len(events) > start + limit
    elif "ending_before" in q:
        # The page just newer than the cursor, still listed newest first.
        end = ids.index(cursor) if cursor in ids else 0
        page, has_more = events[max(0, end - limit) : end], end - limit > 0
    else:
        page, has_more = events[:limit], len(events) > limit
    body = {"object": "list", "url": "/v1/events", "has_more": has_more, "data": page}
    return web.json_response(body)


def _app(state: FakeStripe) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        if request.method == "POST":
            params = decode_form((await request.post()).items())  # type: ignore[arg-type]
        else:
            params = decode_form(request.query.items())
        key = request.headers.get("Idempotency-Key")
        state.calls.append(Call(request.method, request.path, params, key))
        if state.failures:
            return _error(state.failures.pop(0))
        if request.method == "GET" and request.path == "/v1/events":
            return _list_events(state, params)
        if request.method != "POST" or request.path not in _CREATORS:
            failure = Failure(404, "invalid_request_error", None, "Unrecognized request URL", None)
            return _error(failure)
        if key is not None and (request.path, key) in state._idempotent:
            first_params, body = state._idempotent[(request.path, key)]
            if first_params != params:
                message = "Keys for idempotent requests can only be used with the same parameters"
                return _error(Failure(400, "idempotency_error", None, message, None))
            return web.json_response(body, headers={"Idempotent-Replayed": "true"})
        store, make = _CREATORS[request.path]
        body = make(state, params)
        getattr(state, store)[body["id"]] = body
        if key is not None:
            state._idempotent[(request.path, key)] = (params, body)
        return web.json_response(body, headers={"Request-Id": state.new_id("req")})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


@asynccontextmanager
async def stripe_api() -> AsyncIterator[FakeStripe]:
    """Serve a fresh stand-in on a free port of 127.0.0.1; `base_url` is its address."""
    state = FakeStripe()
    runner = web.AppRunner(_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


# --- event payloads -------------------------------------------------------------

_event_ids = itertools.count(1)


def event(kind: str, obj: dict[str, Any], *, created: int | None = None) -> dict[str, Any]:
    """A v1 snapshot event as Stripe sends and lists it."""
    return {
        "id": f"evt_test_{next(_event_ids):08d}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()) if created is None else created,
        "type": kind,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": obj},
    }


def session_object(
    session_id: str,
    amount: int,
    currency: str = "usd",
    *,
    campaign: str | None = "russia",
    payment_intent: str | None = None,
    paid: bool = True,
    thank_token: str | None = None,
) -> dict[str, Any]:
    metadata = {} if campaign is None else {"campaign": campaign, "earmark": f"for {campaign}"}
    if thank_token:
        metadata["thank_token"] = thank_token
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "submit_type": "donate",
        "amount_total": amount,
        "currency": currency,
        "payment_status": "paid" if paid else "unpaid",
        "status": "complete",
        "payment_intent": payment_intent or "pi_" + session_id.removeprefix("cs_"),
        "metadata": metadata,
        "customer_details": None,
    }


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
    charge_id: str, payment_intent: str, amount: int, refunded: int, currency: str = "usd"
) -> dict[str, Any]:
    obj = {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_refunded": refunded,
        "refunded": refunded >= amount,
        "currency": currency,
        "payment_intent": payment_intent,
        "metadata": {},
    }
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
    obj = {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "currency": currency,
        "charge": "ch_" + payment_intent.removeprefix("pi_"),
        "payment_intent": payment_intent,
        "status": status,
        "reason": "fraudulent",
    }
    return event(f"charge.dispute.{kind}", obj)


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe would send for `payload`."""
    header: str = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=timestamp
    )
    return header


def body(e: dict[str, Any]) -> str:
    return json.dumps(e)
