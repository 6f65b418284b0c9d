"""Stripe: the API calls (Checkout Sessions, Prices, the event list) and webhook signatures.

The only module that imports `stripe`. It uses stripe-python's `StripeClient`
with the library's aiohttp-based async HTTP client, so no call blocks the
event loop; `[stripe] api_base` points it at a stand-in in tests.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence

import stripe
from stripe.params import EventListParams, PriceCreateParams
from stripe.params.checkout import SessionCreateParams

from bot.donations.providers import (
    BadSignature,
    ProviderError,
    key_mode,
)
from bot.donations.reconcile import EventsPage, UnknownCursor
from bot.i18n import N_

log = logging.getLogger(__name__)
# stripe logs every request at INFO and response bodies (donor emails, names) at DEBUG.
logging.getLogger("stripe").setLevel(logging.WARNING)

WEBHOOK_TOLERANCE = 300  # seconds a signed webhook stays acceptable (Stripe's default)
FUTURE_SKEW = 60  # seconds a signature's timestamp may run ahead of our clock

_TRANSIENT = (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError)


class MissingPrice(ProviderError):
    """Stripe no longer has a stored Price the session named (deleted, or another account)."""

    def __init__(self, price_id: str) -> None:
        super().__init__(N_("The payment page needs setting up again."), transient=True)
        self.price_id = price_id


def verify_signature(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    now: float,
    tolerance: int = WEBHOOK_TOLERANCE,
    skew: int = FUTURE_SKEW,
) -> None:
    """Check a webhook's `Stripe-Signature` with the real library; raise BadSignature."""
    try:
        stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
    except stripe.SignatureVerificationError:
        raise BadSignature("signature does not verify (wrong secret, tampered or stale)") from None
    except UnicodeDecodeError:
        raise BadSignature("body is not UTF-8") from None
    # stripe only refuses timestamps that are too old; one far in the future would stay
    # replayable for that long, so refuse it too.
    assert header is not None  # verify_header refuses a missing header
    stamps = [part[2:] for part in header.split(",") if part.startswith("t=")]
    if not stamps or not stamps[0].isdigit() or int(stamps[0]) > now + skew:
        raise BadSignature("timestamp is in the future")


def _problem(exc: stripe.StripeError, doing: str) -> ProviderError:
    """The person sees a short sentence with a reference; the log keeps what Stripe said.

    Stripe's own text is for the organisers: it can name modes, keys and parameters
    ("a similar object exists in test mode") and must not reach a public chat.
    """
    reference = secrets.token_hex(4)
    log.warning(
        "stripe %s failed (reference %s): %s %s (HTTP %s, request %s, code %s)",
        doing,
        reference,
        type(exc).__name__,
        exc.user_message or "",
        exc.http_status,
        exc.request_id,
        exc.code,
    )
    if isinstance(exc, _TRANSIENT):
        return ProviderError(
            N_("The payment service is not answering right now. Please try again in a minute."),
            transient=True,
        )
    if exc.code == "amount_too_small":
        return ProviderError(
            N_("That amount is below the smallest payment the card service takes."),
            transient=False,
        )
    return ProviderError(
        N_("Payments are not working right now; the organisers can look it up as {reference}."),
        transient=False,
        reference=reference,
    )


class StripeApi:
    """The few Stripe calls the bot makes, with errors turned into ProviderError."""

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str = "https://api.stripe.com",
        max_network_retries: int = 2,
        timeout: float = 20.0,
    ) -> None:
        self._secret_key = secret_key
        self.api_base = api_base.rstrip("/")
        self.max_network_retries = max_network_retries
        self.timeout = timeout
        self._http: stripe.AIOHTTPClient | None = None
        self._client: stripe.StripeClient | None = None

    def client(self) -> stripe.StripeClient:
        """The client, made on first use (its aiohttp session opens in the running loop)."""
        if self._client is None:
            self._http = stripe.AIOHTTPClient(timeout=self.timeout)
            self._client = stripe.StripeClient(
                self._secret_key,
                base_addresses={"api": self.api_base},
                max_network_retries=self.max_network_retries,
                http_client=self._http,
            )
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP session; a later call opens a new one."""
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.close_async()  # type: ignore[no-untyped-call]  # untyped in stripe 16

    @property
    def mode(self) -> str:
        """ "test" or "live": which of the account's two worlds this key sees."""
        return key_mode(self._secret_key)

    @property
    def account_ref(self) -> str:
        """Names the account and mode the key belongs to, without holding the key."""
        return f"{self.mode}:{digest(self._secret_key)[:16]}"

    async def create_checkout_session(self, params: SessionCreateParams, key: str) -> str:
        """A Checkout Session a donor can still pay; its URL.

        A repeated `key` gives back the session made for it, unless Stripe now reports
        that one `complete` or `expired`: then a fresh session is made, so a paid or
        timed-out page is never handed out again. Raises ProviderError.
        """
        sessions = self.client().v1.checkout.sessions
        try:
            session = await self._create_session(params, key)
            if _replayed(session) and await self._is_done(session.id):
                # Someone paid (or let it lapse); this tap wants a new page.
                fresh = f"{key}:{secrets.token_hex(8)}"
                session = await sessions.create_async(params, {"idempotency_key": fresh})
        except stripe.InvalidRequestError as exc:
            missing = _missing_price(exc, params)
            if missing is not None:
                raise MissingPrice(missing) from None
            raise _problem(exc, "checkout session") from None
        except stripe.StripeError as exc:
            raise _problem(exc, "checkout session") from None
        if not session.url:
            raise ProviderError(N_("The payment service gave no payment page."), transient=True)
        return session.url

    async def _create_session(
        self, params: SessionCreateParams, key: str
    ) -> stripe.checkout.Session:
        sessions = self.client().v1.checkout.sessions
        try:
            return await sessions.create_async(params, {"idempotency_key": key})
        except stripe.IdempotencyError:
            # The same choice came back with different parameters (a new thank-you
            # token after the first was used): that is a new session, not a replay.
            fresh = f"{key}:{secrets.token_hex(8)}"
            return await sessions.create_async(params, {"idempotency_key": fresh})

    async def _is_done(self, session_id: str) -> bool:
        """Whether Stripe reports the session `complete` or `expired` now."""
        current = await self.client().v1.checkout.sessions.retrieve_async(session_id)
        return current.status in {"complete", "expired"}

    async def create_price(self, params: PriceCreateParams, key: str) -> str:
        try:
            price = await self.client().v1.prices.create_async(params, {"idempotency_key": key})
        except stripe.StripeError as exc:
            raise _problem(exc, "price") from None
        return price.id

    async def events_page(
        self,
        *,
        ending_before: str | None = None,
        starting_after: str | None = None,
        limit: int = 100,
        types: Sequence[str] = (),
        delivery_success: bool | None = None,
    ) -> EventsPage:
        """One page of the account's events, newest first, as plain dicts."""
        params: EventListParams = {"limit": limit}
        if delivery_success is not None:
            params["delivery_success"] = delivery_success
        if ending_before:
            params["ending_before"] = ending_before
        if starting_after:
            params["starting_after"] = starting_after
        if types:
            params["types"] = list(types)
        try:
            page = await self.client().v1.events.list_async(params)
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing" and (ending_before or starting_after):
                raise UnknownCursor("the cursor event is gone", transient=False) from None
            raise _problem(exc, "event list") from None
        except stripe.StripeError as exc:
            raise _problem(exc, "event list") from None
        return EventsPage([event.to_dict() for event in page.data], bool(page.has_more))


def digest(text: str) -> str:
    """A short stable name for `text` (a key, a title) that does not reveal it."""
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _missing_price(exc: stripe.InvalidRequestError, params: SessionCreateParams) -> str | None:
    """The stored Price id Stripe says it does not have, if that is what it refused."""
    if exc.code != "resource_missing" or not (exc.param or "").endswith("[price]"):
        return None
    for item in params.get("line_items", []):
        if "price" in item:
            return item["price"]
    return None


def _replayed(obj: stripe.StripeObject) -> bool:
    """Whether Stripe answered from its idempotency store (the object as it was then)."""
    response = obj.last_response
    return response is not None and response.headers.get("idempotent-replayed") == "true"
