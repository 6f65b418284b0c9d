"""The route that receives payment webhooks at `POST /stripe/webhook` (on the `[web]` server).

The raw body is capped at 1 MiB and its signature is checked before anything
in it is parsed; a refused request gets 400 and changes nothing. A request
that passes but cannot be stored gets 500, so Stripe delivers it again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Protocol

from aiohttp import web

from bot.donations.providers import BadSignature
from bot.donations.reconcile import ApplyEvent

log = logging.getLogger(__name__)

PATH = "/stripe/webhook"
MAX_BODY = 1024 * 1024
RECEIVED = b'{"received": true}'  # the answer to an event recorded (or already known)


class SignatureCheck(Protocol):
    def __call__(self, payload: bytes, header: str | None, secret: str, *, now: float) -> None:
        """Return if the payload is signed with `secret` and fresh; raise BadSignature if not."""
        ...


class StripeWebhook:
    """The webhook route, served by the `[web]` server (see `add_routes`)."""

    def __init__(
        self,
        *,
        secret: str,
        verify: SignatureCheck,
        apply: ApplyEvent,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self.verify = verify
        self.apply = apply
        self.clock = clock

    def add_routes(self, app: web.Application) -> None:
        """Serve the webhook route on the `[web]` server's app."""
        app.router.add_post(PATH, self._receive)

    async def _receive(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            log.warning("refused a webhook: body too large")
            return web.Response(status=413, text="body too large")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            log.warning("refused a webhook: body too large")
            return web.Response(status=413, text="body too large")
        try:
            self.verify(
                body, request.headers.get("Stripe-Signature"), self._secret, now=self.clock()
            )
        except BadSignature as exc:
            log.warning("refused a webhook: %s", exc)
            return web.Response(status=400, text="bad signature")
        try:
            event = json.loads(body)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            log.warning("refused a signed webhook that is not a JSON object")
            return web.Response(status=400, text="not an event")
        try:
            await self.apply(event)
        except Exception:
            # 500 makes Stripe deliver the event again later; the ledger is idempotent.
            log.exception("could not record a %s webhook", event.get("type"))
            return web.Response(status=500, text="try again")
        return web.Response(body=RECEIVED, content_type="application/json")
