"""Fixtures for the web tests: the bot built as production builds it, its web app on a
test client (or a real port, for the browser), and the Stripe stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.config import Config
from bot.donations import Donations
from bot.lifecycle import App
from bot.storage import Database
from bot.web import WebServer
from tests.donations.conftest import RUSSIA, SECRET_KEY, WEBHOOK_SECRET, donation_config
from tests.fakes.recording import RecordingAdapter
from tests.fakes.stripe_api import FakeStripe, body, checkout_completed, sign, stripe_api
from tests.helpers import FakeClock

ENV = {"STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}
NOW = 1_767_225_600.0  # 2026-01-01 00:00 UTC


@dataclass
class Site:
    """The built bot, its web server, and an HTTP client on the server's app."""

    app: App
    server: WebServer
    client: TestClient[Any, Any]

    @property
    def donations(self) -> Donations:
        assert self.app.services.donations is not None
        return self.app.services.donations

    async def pay(self, session_id: str, amount: int, campaign: str = "russia") -> int:
        """POST a signed `checkout.session.completed` to the bot's webhook route."""
        payload = body(checkout_completed(session_id, amount, campaign=campaign))
        headers = {"Stripe-Signature": sign(payload, WEBHOOK_SECRET)}
        response = await self.client.post("/stripe/webhook", data=payload, headers=headers)
        return response.status


def web_config(
    tmp_path: Path,
    campaigns: list[dict[str, Any]] | None = None,
    *,
    provider: str = "stripe",
    stripe_base: str = "https://api.stripe.com",
    **web: Any,
) -> Config:
    settings = {"listen": "127.0.0.1:0", "enabled": True, "heartbeat": 0.2, **web}
    return donation_config(
        tmp_path,
        [RUSSIA] if campaigns is None else campaigns,
        provider=provider,
        stripe_base=stripe_base,
        environ=ENV,
        web=settings,
    )


def build(config: Config, db: Database) -> App:
    adapters = {"console": RecordingAdapter()}
    return build_app(config, db, environ=ENV, adapters=adapters, clock=FakeClock(NOW))


@asynccontextmanager
async def running(app: App) -> AsyncIterator[Site]:
    """The app's web server on aiohttp's test server, with its live hub running."""
    server = app.web
    assert server is not None
    stop = asyncio.Event()
    client: TestClient[Any, Any] = TestClient(TestServer(server.app()))
    await client.start_server()
    hub = asyncio.create_task(server.site.hub.run(stop)) if server.site else None
    try:
        yield Site(app, server, client)
    finally:
        stop.set()
        if hub is not None:
            await asyncio.wait_for(hub, 5)
        await client.close()
        await app.close()


@pytest.fixture
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    async with stripe_api() as state:
        yield state


@pytest.fixture
async def site(tmp_path: Path, db: Database, fake_stripe: FakeStripe) -> AsyncIterator[Site]:
    """One Stripe campaign ("russia", $20,000 goal), pages on, a 0.2 s heartbeat."""
    config = web_config(tmp_path, stripe_base=fake_stripe.base_url)
    async with running(build(config, db)) as s:
        yield s
