"""`outreach-bot progress --json`, `ledger export --csv` and `reconcile`."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import offline_audience
from bot.cli import main
from bot.config import load_config
from bot.donations import build_donations
from bot.storage import open_database
from tests.donations.conftest import SECRET_KEY
from tests.fakes.stripe_api import (
    FakeStripe,
    charge_refunded,
    checkout_completed,
    dispute_event,
)

CONFIG = """
[console]
enabled = true

[storage]
path = "bot.sqlite3"

[[channels]]
name = "news"
platform = "console"
chat = "news"

[[campaigns]]
id = "russia"
title = "Russian anti-war protesters"
earmark = "for Russian anti-war protesters"
goal = 20000
currency = "USD"
channels = ["news"]
provider = "{provider}"

[[campaigns]]
id = "tokyo"
title = "Tokyo shelter"
earmark = "for the Tokyo shelter"
goal = 1000000
currency = "JPY"
amounts = [1000, 5000]
highlight = 5000
provider = "{provider}"

[donations]
static_url = "https://donate.example.org/?c={{campaign}}&a={{amount}}"

[stripe]
api_base = "{api_base}"
max_network_retries = 0
"""


def write_config(
    tmp_path: Path, provider: str = "static", api_base: str = "https://x.test"
) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(CONFIG.format(provider=provider, api_base=api_base))
    return path


EVENTS = [
    checkout_completed("cs_1", 5000, payment_intent="pi_1"),
    checkout_completed("cs_2", 7000, payment_intent="pi_2"),
    charge_refunded("ch_2", "pi_2", 7000, 2000),
    dispute_event("funds_withdrawn", "dp_1", "pi_1", 5000),
    checkout_completed("cs_3", 3000, "eur"),
    checkout_completed("cs_4", 5000, "jpy", campaign="tokyo"),
    checkout_completed("cs_5", 2500, campaign="nowhere"),
]


async def populate(config_path: Path) -> None:
    config = load_config(config_path, environ={})
    async with open_database(config.database_path()) as db:
        audience = offline_audience(config, db)
        ledger = build_donations(config, db, audience, audience.outbox, environ={}).ledger
        for event in [*EVENTS, EVENTS[2], EVENTS[0]]:
            await ledger.apply_event(event)
        await ledger.record_gift("russia", 10000, "USD", "cash at the stall")
        voided = await ledger.record_gift("russia", 999, "USD", "typo")
        await ledger.unrecord(voided)


def test_progress_json_has_exact_totals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    asyncio.run(populate(config))
    assert main(["progress", "-c", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["campaigns"] == [
        {
            "id": "russia",
            "currency": "USD",
            "goal": 2000000,
            # 5000 + 7000 - 2000 refunded - 5000 disputed + 10000 offline gift
            "raised": 15000,
            # two USD payments and one offline gift; the EUR payment is counted apart (as
            # its amount is), the voided gift not at all
            "donations": 3,
            "by_currency": {"USD": 15000, "EUR": 3000},
            "monthly_supporters": 0,
            "monthly_amount": 0,
        },
        {
            "id": "tokyo",
            "currency": "JPY",
            "goal": 1000000,
            "raised": 5000,
            "donations": 1,
            "by_currency": {"JPY": 5000},
            "monthly_supporters": 0,
            "monthly_amount": 0,
        },
    ]
    assert report["mode"] is None  # no Stripe key: every entry counts
    assert report["unassigned"] == {"donations": 1, "by_currency": {"USD": 2500}}


def test_progress_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    asyncio.run(populate(config))
    assert main(["progress", "-c", str(config)]) == 0
    out = capsys.readouterr().out
    assert "Support Russian anti-war protesters — $150 of $20,000 (1%)" in out
    assert "Also received: €30" in out
    assert "Support Tokyo shelter — ¥5,000 of ¥1,000,000 (1%)" in out
    assert "Unassigned (no known campaign): $25" in out


def test_ledger_export_gives_every_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    asyncio.run(populate(config))
    assert main(["ledger", "export", "-c", str(config), "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["kind"] for r in rows] == [
        "payment",
        "payment",
        "refund",
        "dispute_withdrawn",
        "payment",
        "payment",
        "payment",
        "gift",
        "gift",
        "gift_void",
    ]
    refund = rows[2]
    assert (refund["campaign"], refund["amount_minor"], refund["amount"]) == (
        "russia",
        "2000",
        "20.00",
    )
    assert rows[5]["amount"] == "5000"  # JPY has no decimals
    assert (rows[6]["campaign"], rows[6]["named_campaign"]) == ("unassigned", "nowhere")
    assert rows[7]["note"] == "cash at the stall"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI sets up logging for a process; put the test process's logging back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
async def test_reconcile_command_reads_the_event_list(
    tmp_path: Path,
    fake_stripe: FakeStripe,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, "stripe", fake_stripe.base_url)
    for event in EVENTS[:3]:
        fake_stripe.add_event(event)
    env = {**os.environ, "STRIPE_SECRET_KEY": SECRET_KEY}
    env.pop("STRIPE_WEBHOOK_SECRET", None)

    async def cli(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            *args,
            "-c",
            str(config),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    code, out, err = await cli("reconcile")
    assert code == 0, err
    assert out.strip() == "reconciled: 3 events read, 3 new ledger entries"
    # The rest in a thread of this process (faster than new interpreters); the stand-in
    # keeps serving on this loop meanwhile.
    monkeypatch.setenv("STRIPE_SECRET_KEY", SECRET_KEY)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)

    async def in_thread(*args: str) -> int:
        return await asyncio.wait_for(asyncio.to_thread(main, [*args, "-c", str(config)]), 30)

    capsys.readouterr()
    assert await in_thread("reconcile") == 0
    assert capsys.readouterr().out.strip() == "reconciled: 0 events read, 0 new ledger entries"
    assert await in_thread("progress", "--json") == 0
    assert json.loads(capsys.readouterr().out)["campaigns"][0]["raised"] == 10000
    fake_stripe.fail_next(1, 500)
    assert await in_thread("reconcile") == 1
    err = capsys.readouterr().err
    assert "reconciliation failed" in err
    assert SECRET_KEY not in err


@pytest.mark.parametrize("command", [["progress"], ["ledger", "export"], ["reconcile"]])
def test_donation_commands_have_help(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([*command, "--help"])
    assert stopped.value.code == 0
    assert "usage: outreach-bot" in capsys.readouterr().out
