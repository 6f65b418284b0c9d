"""POST /stripe/webhook: signatures checked with the real stripe library before anything else."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.donations.providers import BadSignature
from bot.donations.stripe_provider import verify_signature
from bot.donations.webhook import MAX_BODY, PATH, StripeWebhook
from bot.storage import Database
from bot.web import WebServer
from tests.donations.conftest import (
    RUSSIA,
    SECRET_KEY,
    WEBHOOK_SECRET,
    Harness,
    donation_config,
    make_harness,
)
from tests.fakes.stripe_api import body, checkout_completed, sign

ENV = {"STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


@dataclass
class Endpoint:
    harness: Harness
    server: WebServer
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.server.url + PATH

    async def post(self, payload: str | bytes | io.BytesIO | Any, signature: str | None) -> int:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        async with self.http.post(self.url, data=payload, headers=headers) as response:
            await response.read()
            return response.status


@pytest.fixture
async def endpoint(tmp_path: Path, db: Database) -> AsyncIterator[Endpoint]:
    config = donation_config(tmp_path, [RUSSIA], provider="stripe", environ=ENV)
    harness = make_harness(config, db, environ=ENV)
    webhook = harness.donations.webhook
    assert webhook is not None
    server = WebServer("127.0.0.1:0", webhook=webhook)
    await server.start()
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            yield Endpoint(harness, server, http)
    finally:
        await server.stop()
        await harness.donations.aclose()


async def test_a_signed_event_is_recorded_once(endpoint: Endpoint) -> None:
    payload = body(checkout_completed("cs_1", 5000))
    assert await endpoint.post(payload, sign(payload, WEBHOOK_SECRET)) == 200
    assert await endpoint.post(payload, sign(payload, WEBHOOK_SECRET)) == 200
    assert await endpoint.harness.raised("russia") == 5000


@pytest.mark.parametrize(
    "case", ["tampered", "stale", "future", "wrong secret", "no header", "garbage header"]
)
async def test_a_bad_signature_gets_400_and_changes_nothing(endpoint: Endpoint, case: str) -> None:
    payload = body(checkout_completed("cs_1", 5000))
    now = int(time.time())
    signatures = {
        "tampered": sign(payload, WEBHOOK_SECRET),
        "stale": sign(payload, WEBHOOK_SECRET, timestamp=now - 301),
        "future": sign(payload, WEBHOOK_SECRET, timestamp=now + 600),
        "wrong secret": sign(payload, "whsec_someone_else"),
        "no header": None,
        "garbage header": "v1=abc",
    }
    sent = payload.replace("5000", "500000") if case == "tampered" else payload
    assert await endpoint.post(sent, signatures[case]) == 400
    assert await endpoint.harness.donations.ledger.totals() == {}


async def test_a_timestamp_slightly_ahead_of_our_clock_is_accepted(endpoint: Endpoint) -> None:
    payload = body(checkout_completed("cs_1", 5000))
    signature = sign(payload, WEBHOOK_SECRET, timestamp=int(time.time()) + 30)
    assert await endpoint.post(payload, signature) == 200


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_an_oversized_body_gets_413_and_changes_nothing(
    endpoint: Endpoint, framing: str
) -> None:
    event = checkout_completed("cs_1", 5000)
    event["padding"] = "x" * MAX_BODY
    payload = body(event).encode()
    signature = sign(payload.decode(), WEBHOOK_SECRET)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]

    data = io.BytesIO(payload) if framing == "content-length" else chunks()
    assert await endpoint.post(data, signature) == 413
    assert await endpoint.harness.donations.ledger.totals() == {}


async def test_a_signed_body_that_is_not_an_event_gets_400(endpoint: Endpoint) -> None:
    for payload in ("[1, 2]", "not json"):
        assert await endpoint.post(payload, sign(payload, WEBHOOK_SECRET)) == 400


async def test_a_non_utf8_body_gets_400(endpoint: Endpoint) -> None:
    assert await endpoint.post(b"\xff\xfe", "t=1,v1=00") == 400


async def test_an_event_that_cannot_be_stored_gets_500_so_stripe_retries() -> None:
    async def failing(event: Mapping[str, Any]) -> int:
        raise RuntimeError("disk full")

    webhook = StripeWebhook(secret=WEBHOOK_SECRET, verify=verify_signature, apply=failing)
    server = WebServer("127.0.0.1:0", webhook=webhook)
    await server.start()
    try:
        payload = body(checkout_completed("cs_1", 5000))
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                server.url + PATH,
                data=payload,
                headers={"Stripe-Signature": sign(payload, WEBHOOK_SECRET)},
            ) as response,
        ):
            assert response.status == 500
    finally:
        await server.stop()


def test_verify_signature_uses_stripes_check_and_refuses_the_future() -> None:
    payload = body(checkout_completed("cs_1", 5000))
    now = time.time()
    verify_signature(payload.encode(), sign(payload, WEBHOOK_SECRET), WEBHOOK_SECRET, now=now)
    future = sign(payload, WEBHOOK_SECRET, timestamp=int(now) + 61)
    with pytest.raises(BadSignature, match="future"):
        verify_signature(payload.encode(), future, WEBHOOK_SECRET, now=now)


async def test_the_web_servers_job_serves_the_webhook_until_stopped(
    tmp_path: Path, db: Database
) -> None:
    config = donation_config(tmp_path, [RUSSIA], provider="stripe", environ=ENV)
    harness = make_harness(config, db, environ=ENV)
    (_catch_up,) = harness.donations.jobs()  # the hourly catch-up pass; the route is the web's
    assert harness.donations.webhook is not None
    server = WebServer("127.0.0.1:0", webhook=harness.donations.webhook)
    stop = asyncio.Event()
    task = asyncio.create_task(server.run(stop))
    try:
        await asyncio.wait_for(server.listening.wait(), 5)
        payload = body(checkout_completed("cs_1", 5000))
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                server.url + PATH,
                data=payload,
                headers={"Stripe-Signature": sign(payload, WEBHOOK_SECRET)},
            ) as response,
        ):
            assert response.status == 200
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await harness.donations.aclose()
    assert await harness.raised("russia") == 5000
