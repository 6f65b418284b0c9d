"""A Stripe API stand-in on 127.0.0.1, driven by the real `stripe` client through `base_addresses`.

It speaks the parts of the API the bot uses: Checkout Sessions (payment and
subscription mode), Prices, Payment Links and the event list with its cursors,
with Stripe's idempotency rules. Parameters are checked against the `stripe`
package's own parameter types (`stripe_params`), objects start from Stripe's
example objects (`stripe_fixtures`), and test-mode and live-mode objects are
kept apart by the key's prefix, as Stripe keeps them. Tests complete or expire
sessions and renew subscriptions, which publishes the events Stripe would.
"""

from __future__ import annotations

import copy
import itertools
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from stripe.params import EventListParams, PaymentLinkCreateParams, PriceCreateParams
from stripe.params.checkout import SessionCreateParams

from tests.fakes import stripe_params as rules
from tests.fakes.stripe_fixtures import (
    API_VERSION,
    async_failed,
    async_succeeded,
    body,
    charge,
    charge_refunded,
    checkout_completed,
    checkout_session,
    dispute_event,
    event,
    invoice_object,
    invoice_payment,
    resource,
    session_object,
    sign,
)
from tests.fakes.stripe_params import ParamError

__all__ = [
    "API_VERSION",
    "Call",
    "FakeStripe",
    "async_failed",
    "async_succeeded",
    "body",
    "charge_refunded",
    "checkout_completed",
    "decode_form",
    "dispute_event",
    "event",
    "invoice_object",
    "session_object",
    "sign",
    "stripe_api",
]

SESSION_LIFETIME = 24 * 3600  # Stripe's default Checkout Session expiry


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
    livemode: bool | None = None


@dataclass
class FakeStripe:
    """State of the stand-in; tests read and steer it directly.

    Stored objects carry `livemode`; a request sees only those of its key's mode.
    """

    calls: list[Call] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_links: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # newest first, as Stripe lists
    # Events whose webhook delivery failed (listed with `delivery_success=false`).
    undelivered: set[str] = field(default_factory=set)
    failures: list[ParamError] = field(default_factory=list)
    base_url: str = ""
    clock: Callable[[], float] = time.time
    # What the client asked of each session, which the session object does not show.
    _requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    _idempotent: dict[tuple[bool, str, str], tuple[dict[str, Any], dict[str, Any]]] = field(
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
        self.failures += [ParamError(message, None, code, status, error_type, should_retry)] * n

    def add_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Publish an event in the list (it becomes the newest)."""
        self.events.insert(0, event)
        return event

    def fail_delivery(self, event: dict[str, Any]) -> dict[str, Any]:
        """Stripe could not deliver `event` to the webhook endpoint."""
        self.undelivered.add(event["id"])
        return event

    def refund(self, charge_id: str, amount: int | None = None) -> dict[str, Any]:
        """Refund (part of) a charge from the dashboard; returns `charge.refunded`."""
        paid = self.charges[charge_id]
        refunded = paid["amount_refunded"] + (paid["amount"] if amount is None else amount)
        paid.update(amount_refunded=refunded, refunded=refunded >= paid["amount"])
        return self._publish("charge.refunded", paid)

    def posts(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and c.path == path]

    def new_id(self, prefix: str, livemode: bool = False) -> str:
        return f"{prefix}_{'live' if livemode else 'test'}_{next(self._ids):06d}"

    def _publish(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        snapshot = copy.deepcopy(obj)
        return self.add_event(
            event(kind, snapshot, created=int(self.clock()), livemode=obj["livemode"])
        )

    # --- what a donor does on Stripe's pages ------------------------------------------

    def complete_session(self, session_id: str, amount: int | None = None) -> dict[str, Any]:
        """The donor pays: the session becomes complete and Stripe's events are published
        (a subscription and its first invoice in subscription mode). Returns the
        `checkout.session.completed` event. `amount` is the donor's choice on an
        "any amount" page."""
        session = self.sessions[session_id]
        if session["status"] != "open":
            raise ValueError(f"{session_id} is {session['status']}, not open")
        total = session["amount_total"] if amount is None else amount
        session.update(amount_subtotal=total, amount_total=total, url=None)
        session.update(customer_details=resource("checkout.session")["customer_details"])
        asked = self._requests[session_id]
        if session["mode"] == "subscription":
            self._start_subscription(session, asked, total)
        else:
            self._pay(session, asked, total)
        session.update(status="complete", payment_status="paid")
        return self._publish("checkout.session.completed", session)

    def expire_session(self, session_id: str) -> dict[str, Any]:
        """The session times out unpaid; returns the `checkout.session.expired` event."""
        session = self.sessions[session_id]
        if session["status"] != "open":
            raise ValueError(f"{session_id} is {session['status']}, not open")
        session.update(status="expired", url=None)
        return self._publish("checkout.session.expired", session)

    def renew_subscription(self, subscription_id: str) -> dict[str, Any]:
        """A month passes: the next invoice is paid; returns the `invoice.paid` event."""
        sub = self.subscriptions[subscription_id]
        return self._invoice(sub, sub["plan_amount"], "subscription_cycle")

    def cancel_subscription(self, subscription_id: str) -> dict[str, Any]:
        """The donor cancels in the portal; returns `customer.subscription.deleted`."""
        sub = self.subscriptions[subscription_id]
        now = int(self.clock())
        sub.update(status="canceled", canceled_at=now, ended_at=now)
        return self._publish("customer.subscription.deleted", _public(sub))

    def _pay(self, session: dict[str, Any], asked: dict[str, Any], total: int) -> None:
        metadata = (asked.get("payment_intent_data") or {}).get("metadata", {})
        intent_id = self._charge(session["livemode"], session["currency"], total, metadata)
        session["payment_intent"] = intent_id

    def _charge(self, live: bool, currency: str, total: int, metadata: dict[str, Any]) -> str:
        """A succeeded PaymentIntent and its charge (Stripe copies the intent's metadata
        onto the charge); publishes their events and returns the intent's id."""
        intent_id, charge_id = self.new_id("pi", live), self.new_id("ch", live)
        intent = resource(
            "payment_intent",
            id=intent_id,
            amount=total,
            amount_received=total,
            currency=currency,
            metadata=metadata,
            status="succeeded",
            latest_charge=charge_id,
            livemode=live,
            last_payment_error=None,
            next_action=None,
            canceled_at=None,
            client_secret=f"{intent_id}_secret_fake",
        )
        paid = charge(
            id=charge_id,
            amount=total,
            amount_captured=total,
            currency=currency,
            metadata=metadata,
            payment_intent=intent_id,
            livemode=live,
        )
        self.payment_intents[intent_id], self.charges[charge_id] = intent, paid
        self._publish("charge.succeeded", paid)
        self._publish("payment_intent.succeeded", intent)
        return intent_id

    def _start_subscription(
        self, session: dict[str, Any], asked: dict[str, Any], total: int
    ) -> None:
        live = session["livemode"]
        sub_id = self.new_id("sub", live)
        sub = resource(
            "subscription",
            id=sub_id,
            status="active",
            currency=session["currency"],
            customer=self.new_id("cus", live),
            metadata=(asked.get("subscription_data") or {}).get("metadata", {}),
            livemode=live,
            cancel_at=None,
            canceled_at=None,
            ended_at=None,
        )
        sub["plan_amount"] = total  # the stand-in's own note; not shown to the client
        self.subscriptions[sub_id] = sub
        session["subscription"] = sub_id
        self._publish("customer.subscription.created", _public(sub))
        paid = self._invoice(sub, total, "subscription_create")
        session["invoice"] = paid["data"]["object"]["id"]

    def _invoice(self, sub: dict[str, Any], amount: int, reason: str) -> dict[str, Any]:
        live = sub["livemode"]
        invoice = invoice_object(
            self.new_id("in", live),
            sub["id"],
            amount,
            sub["currency"],
            metadata=sub["metadata"],
            billing_reason=reason,
            livemode=live,
        )
        invoice["customer"] = sub["customer"]
        self.invoices[invoice["id"]] = invoice
        sub["latest_invoice"] = invoice["id"]
        # A subscription's payment carries no metadata of its own (as at Stripe).
        intent_id = self._charge(live, sub["currency"], amount, {})
        paid = self._publish("invoice.paid", invoice)
        self._publish("invoice_payment.paid", invoice_payment(invoice, intent_id))
        return paid

    # --- requests -----------------------------------------------------------------------

    def find(self, store: str, object_id: str, livemode: bool, param: str | None) -> dict[str, Any]:
        """The stored object, or Stripe's resource_missing error (naming the other mode)."""
        obj: dict[str, Any] | None = getattr(self, store).get(object_id)
        kind = store.rstrip("s").replace("_", " ")
        if obj is None:
            raise ParamError(f"No such {kind}: '{object_id}'", param, "resource_missing", 404)
        if obj["livemode"] != livemode:
            here, there = ("live", "test") if livemode else ("test", "live")
            raise ParamError(
                f"No such {kind}: '{object_id}'; a similar object exists in {there} mode, "
                f"but a {here} mode key was used to make this request.",
                param,
                "resource_missing",
                404,
            )
        return obj


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "plan_amount"}


# --- the HTTP side ----------------------------------------------------------------------


def _error(e: ParamError) -> web.Response:
    headers = {"Request-Id": "req_fake"}
    if e.should_retry is not None:
        headers["Stripe-Should-Retry"] = "true" if e.should_retry else "false"
    return web.json_response(e.body(), status=e.status, headers=headers)


def _livemode(request: web.Request) -> bool:
    """The key's mode from its prefix; any other key is refused as Stripe refuses it."""
    key = request.headers.get("Authorization", "").removeprefix("Bearer ")
    for prefix, live in (
        ("sk_test_", False),
        ("rk_test_", False),
        ("sk_live_", True),
        ("rk_live_", True),
    ):
        if key.startswith(prefix) and len(key) > len(prefix):
            return live
    shown = key[:8] + "*" * 4 + key[-4:] if len(key) > 12 else "****"
    raise ParamError(f"Invalid API Key provided: {shown}", None, None, 401)


def _make_session(state: FakeStripe, p: dict[str, Any], live: bool) -> dict[str, Any]:
    total = rules.check_session_create(p, lambda pid, where: state.find("prices", pid, live, where))
    item = p["line_items"][0] if p.get("line_items") else {}
    currency = (item.get("price_data") or {}).get("currency") or (
        state.prices[item["price"]]["currency"] if "price" in item else None
    )
    session_id = state.new_id("cs", live)
    now = int(state.clock())
    session = checkout_session(
        id=session_id,
        url=f"https://checkout.stripe.test/c/pay/{session_id}",
        mode=p["mode"],
        submit_type=p.get("submit_type"),
        metadata=p.get("metadata", {}),
        currency=currency,
        amount_subtotal=total or None,
        amount_total=total or None,
        payment_status="unpaid",
        status="open",
        payment_intent=None,
        subscription=None,
        success_url=p.get("success_url"),
        cancel_url=p.get("cancel_url"),
        livemode=live,
        created=now,
        expires_at=now + SESSION_LIFETIME,
        adaptive_pricing={"enabled": (p.get("adaptive_pricing") or {}).get("enabled") == "true"},
        client_reference_id=p.get("client_reference_id"),
    )
    if "custom_text" in p:
        session["custom_text"].update(p["custom_text"])
    state._requests[session_id] = copy.deepcopy(p)
    return session


def _make_price(state: FakeStripe, p: dict[str, Any], live: bool) -> dict[str, Any]:
    rules.check_price_create(p)
    custom = p.get("custom_unit_amount")
    bounds = (
        None
        if custom is None
        else {k: int(custom[k]) if k in custom else None for k in ("maximum", "minimum", "preset")}
    )
    unit = int(p["unit_amount"]) if "unit_amount" in p else None
    recurring = p.get("recurring")
    return resource(
        "price",
        id=state.new_id("price", live),
        currency=p["currency"],
        unit_amount=unit,
        unit_amount_decimal=None if unit is None else str(unit),
        custom_unit_amount=bounds,
        recurring=None
        if recurring is None
        else {
            "interval": recurring["interval"],
            "interval_count": int(recurring.get("interval_count", 1)),
            "meter": None,
            "usage_type": "licensed",
            "trial_period_days": None,
        },
        type="one_time" if recurring is None else "recurring",
        product=p.get("product") or state.new_id("prod", live),
        metadata=p.get("metadata", {}),
        livemode=live,
        created=int(state.clock()),
        nickname=p.get("nickname"),
        lookup_key=None,
        transform_quantity=None,
    )


def _make_payment_link(state: FakeStripe, p: dict[str, Any], live: bool) -> dict[str, Any]:
    link_id = state.new_id("plink", live)
    return resource(
        "payment_link",
        id=link_id,
        url=f"https://buy.stripe.test/{link_id}",
        metadata=p.get("metadata", {}),
        livemode=live,
    )


Maker = Callable[[FakeStripe, dict[str, Any], bool], dict[str, Any]]
_CREATORS: dict[str, tuple[str, type, Maker]] = {
    "/v1/checkout/sessions": ("sessions", SessionCreateParams, _make_session),
    "/v1/prices": ("prices", PriceCreateParams, _make_price),
    "/v1/payment_links": ("payment_links", PaymentLinkCreateParams, _make_payment_link),
}
_RETRIEVE = re.compile(r"^/v1/(?P<kind>checkout/sessions|prices)/(?P<id>[A-Za-z0-9_]+)$")


def _list_events(state: FakeStripe, q: dict[str, Any], live: bool) -> web.Response:
    rules.check(rules.shape_of(EventListParams), q)
    types = q.get("types") or ([q["type"]] if "type" in q else [])
    mine = [e for e in state.events if e["livemode"] == live]
    events = [e for e in mine if not types or e["type"] in types]
    if "delivery_success" in q:
        failed = q["delivery_success"] == "false"
        events = [e for e in events if (e["id"] in state.undelivered) == failed]
    ids = [e["id"] for e in events]
    limit = int(q.get("limit", 10))
    cursor = q.get("starting_after") or q.get("ending_before")
    if cursor is not None and cursor not in {e["id"] for e in mine}:
        raise ParamError(f"No such event: '{cursor}'", None, "resource_missing", 404)
    if "starting_after" in q:
        start = ids.index(cursor) + 1 if cursor in ids else len(ids)
        page, has_more = events[start : start + limit], len(events) > start + limit
    elif "ending_before" in q:
        # The page just newer than the cursor, still listed newest first.
        end = ids.index(cursor) if cursor in ids else 0
        page, has_more = events[max(0, end - limit) : end], end - limit > 0
    else:
        page, has_more = events[:limit], len(events) > limit
    return web.json_response(
        {"object": "list", "url": "/v1/events", "has_more": has_more, "data": page}
    )


def _create(state: FakeStripe, request: web.Request, p: dict[str, Any], live: bool) -> web.Response:
    key = request.headers.get("Idempotency-Key")
    if key is not None and (live, request.path, key) in state._idempotent:
        first_params, first_body = state._idempotent[(live, request.path, key)]
        if first_params != p:
            message = "Keys for idempotent requests can only be used with the same parameters"
            raise ParamError(message, None, None, 400, "idempotency_error")
        # Stripe replays the first response as it was then, not the object as it is now.
        return web.json_response(first_body, headers={"Idempotent-Replayed": "true"})
    store, params_type, make = _CREATORS[request.path]
    rules.check(rules.shape_of(params_type), p)
    obj = make(state, p, live)
    getattr(state, store)[obj["id"]] = obj
    if key is not None:
        state._idempotent[(live, request.path, key)] = (p, copy.deepcopy(obj))
    return web.json_response(obj, headers={"Request-Id": state.new_id("req")})


def _route(state: FakeStripe, request: web.Request, p: dict[str, Any]) -> web.Response:
    live = _livemode(request)
    state.calls[-1].livemode = live
    if state.failures:
        raise state.failures.pop(0)
    if request.method == "GET" and request.path == "/v1/events":
        return _list_events(state, p, live)
    if request.method == "POST" and request.path in _CREATORS:
        return _create(state, request, p, live)
    expire = re.fullmatch(r"/v1/checkout/sessions/(?P<id>[A-Za-z0-9_]+)/expire", request.path)
    if request.method == "POST" and expire:
        session = state.find("sessions", expire["id"], live, None)
        if session["status"] != "open":
            raise ParamError("Only Checkout Sessions with a status of `open` can be expired.")
        state.expire_session(session["id"])
        return web.json_response(session)
    found = _RETRIEVE.match(request.path)
    if request.method == "GET" and found:
        store = "sessions" if found["kind"] == "checkout/sessions" else "prices"
        return web.json_response(_public(state.find(store, found["id"], live, "id")))
    raise ParamError("Unrecognized request URL", None, None, 404)


def _app(state: FakeStripe) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        if request.method == "POST":
            params = decode_form((await request.post()).items())  # type: ignore[arg-type]
        else:
            params = decode_form(request.query.items())
        key = request.headers.get("Idempotency-Key")
        state.calls.append(Call(request.method, request.path, params, key))
        try:
            return _route(state, request, params)
        except ParamError as exc:
            return _error(exc)

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
