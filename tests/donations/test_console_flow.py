"""The whole /donate flow as a console user sees it: App, ConsoleAdapter, router, providers."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

from bot.app import ConsoleIO, build_app
from bot.config import Config
from bot.storage import Database
from tests.donations.conftest import RUSSIA, SECRET_KEY, donation_config
from tests.fakes.stripe_api import FakeStripe


async def run_console(config: Config, db: Database, lines: list[str]) -> str:
    """Type `lines` at the console bot and return everything it printed."""
    stdout = io.StringIO()
    stdin = io.StringIO("".join(line + "\n" for line in lines))
    environ = {"STRIPE_SECRET_KEY": SECRET_KEY}
    app = build_app(config, db, ConsoleIO(stdin, stdout), environ)
    try:
        await asyncio.wait_for(app.run(), 20)  # returns at the end of input
    finally:
        await app.close()
    return stdout.getvalue()


async def test_donate_through_the_console_with_static_links(tmp_path: Path, db: Database) -> None:
    config = donation_config(tmp_path, [RUSSIA])
    out = await run_console(config, db, ["/donate", "/donate russia 50", "/progress"])
    assert "── bot → alice ──" in out
    assert "Your gift is earmarked “for Russian anti-war protesters”." in out
    assert "→ ★ $50: send /donate russia 50" in out
    assert "→ Any amount: send /donate russia any" in out
    link = "https://donate.example.org/give?c=russia&a=50&cur=USD&note=for%20Russian"
    assert f"→ Donate $50: {link}" in out
    assert "Support Russian anti-war protesters — $0 of $20,000 (0%) ░░░░░░░░░░" in out


async def test_donate_through_the_console_with_stripe(
    tmp_path: Path, db: Database, fake_stripe: FakeStripe
) -> None:
    config = donation_config(
        tmp_path, [RUSSIA], provider="stripe", stripe={"api_base": fake_stripe.base_url}
    )
    out = await run_console(config, db, ["/donate russia any", "/donate russia any notify"])
    (session_id, notify_id) = fake_stripe.sessions
    assert f"https://checkout.stripe.test/c/pay/{session_id}" in out
    assert "→ Tell me when it arrives: send /donate russia any notify" in out
    assert "I will message you here once when the payment arrives" in out
    assert "thank_token" in fake_stripe.sessions[notify_id]["metadata"]
    assert len(fake_stripe.prices) == 1


def test_the_demo_answers_donate_and_progress() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo"],
        input="/donate\n/donate russia 50\n/progress\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "★ $50: send /donate russia 50" in result.stdout
    assert "https://donate.example.org/demo?campaign=russia&amount=50" in result.stdout
    assert "Support Russian anti-war protesters — $0 of $20,000 (0%)" in result.stdout
