"""Fixtures for the donations tests: configs, a wired service with a recording adapter, Stripe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_app
from bot.config import Config, parse_config
from bot.context import Services
from bot.donations import Donations
from bot.outbox.delivery import DeliveryWorker
from bot.router import CommandRouter
from bot.storage import Database
from tests.fakes.recording import RecordingAdapter
from tests.fakes.stripe_api import FakeStripe, stripe_api
from tests.helpers import FakeClock

SECRET_KEY = "sk_test_fake_key_for_tests"
WEBHOOK_SECRET = "whsec_test_secret_for_tests"

RUSSIA: dict[str, Any] = {
    "id": "russia",
    "title": "Russian anti-war protesters",
    "earmark": "for Russian anti-war protesters",
    "goal": 20000,
    "currency": "USD",
    "channels": ["news"],
}
BELARUS: dict[str, Any] = {
    "id": "belarus",
    "title": "Belarusian political prisoners",
    "earmark": "for Belarusian political prisoners",
    "goal": 5000,
    "currency": "EUR",
    "amounts": [5, 20, 50],
    "highlight": 20,
}
TOKYO: dict[str, Any] = {
    "id": "tokyo",
    "title": "Tokyo shelter",
    "earmark": "for the Tokyo shelter",
    "goal": 1000000,
    "currency": "JPY",
    "amounts": [1000, 5000],
    "highlight": 5000,
    "channels": ["news"],
}


def donation_config(
    tmp_path: Path,
    campaigns: list[dict[str, Any]] | None = None,
    *,
    provider: str = "static",
    stripe_base: str = "https://api.stripe.com",
    environ: dict[str, str] | None = None,
    **sections: Any,
) -> Config:
    """A valid config: console enabled, a "news" console channel, the given campaigns."""
    chosen = [{**c, "provider": provider} for c in ([RUSSIA] if campaigns is None else campaigns)]
    data: dict[str, Any] = {
        "console": {"enabled": True, "user": "alice"},
        "admins": {"console": ["admin"]},
        "storage": {"path": str(tmp_path / "bot.sqlite3")},
        "channels": [{"name": "news", "platform": "console", "chat": "news"}],
        "campaigns": chosen,
        "donations": {
            "static_url": "https://donate.example.org/give?c={campaign}&a={amount}"
            "&cur={currency}&note={earmark}"
        },
        "stripe": {"api_base": stripe_base, "reconcile_interval": 10},
        "web": {"listen": "127.0.0.1:0"},
    }
    data.update(sections)
    env = {"STRIPE_SECRET_KEY": SECRET_KEY} if environ is None else environ
    return parse_config(data, base_dir=tmp_path, environ=env)


@dataclass
class Harness:
    """Services with donations, and a recording adapter the outbox delivers to."""

    config: Config
    services: Services
    router: CommandRouter
    donations: Donations
    adapter: RecordingAdapter
    worker: DeliveryWorker
    clock: FakeClock

    @property
    def db(self) -> Database:
        return self.services.db

    async def apply(self, *events: dict[str, Any]) -> int:
        return sum([await self.donations.ledger.apply_event(e) for e in events])

    async def deliver(self) -> None:
        await self.worker.drain(horizon=0.0, limit=10.0)

    def channel(self) -> list[str]:
        return self.adapter.texts("news")

    def admin(self) -> list[str]:
        return self.adapter.texts("admin")

    async def raised(self, campaign: str) -> int:
        (progress,) = await self.donations.ledger.progress([campaign])
        return progress.raised


def make_harness(config: Config, db: Database, *, environ: dict[str, str] | None = None) -> Harness:
    clock = FakeClock(1_767_225_600.0)  # 2026-01-01 00:00 UTC
    env = {"STRIPE_SECRET_KEY": SECRET_KEY} if environ is None else environ
    adapter = RecordingAdapter()
    app = build_app(config, db, environ=env, adapters={"console": adapter}, clock=clock)
    donations = app.services.donations
    assert donations is not None
    worker = app.workers["console"]
    return Harness(config, app.services, app.router, donations, adapter, worker, clock)


@pytest.fixture
async def harness(tmp_path: Path, db: Database) -> AsyncIterator[Harness]:
    h = make_harness(donation_config(tmp_path, [RUSSIA, BELARUS, TOKYO]), db)
    try:
        yield h
    finally:
        await h.donations.aclose()


@pytest.fixture
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    async with stripe_api() as state:
        yield state
