"""Donor safety: after a thank-you, nothing the bot stores joins a chat to a payment.

The donors of these campaigns support people a state arrests. A seized database must
not tie a chat account to a Checkout Session (which Stripe's dashboard maps to a name
and a card): not by a row holding both, and not by matching times.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.chat import Sender
from bot.chat.plain import render_plain
from bot.storage import Database
from bot.storage import ledger as lq
from bot.storage import thanks as tq
from tests.donations.conftest import RUSSIA, Harness, donation_config, make_harness
from tests.donations.test_donate import Chat, make_router
from tests.fakes.stripe_api import FakeStripe

DONOR = "donor-7f3a9c"  # a chat id stored nowhere else
HOUR = 3600
# What a person chose for themselves (/language) is kept under their chat user id, and is
# no secret to keep from a seized database: it holds no payment, no token and no time. It
# is the one row allowed to name a donor, and only with exactly these columns.
PERSON_COLUMNS = {"platform", "user_id", "language"}


@pytest.fixture
async def h(tmp_path: Path, db: Database, fake_stripe: FakeStripe) -> AsyncIterator[Harness]:
    config = donation_config(
        tmp_path, [RUSSIA], provider="stripe", stripe={"api_base": fake_stripe.base_url}
    )
    harness = make_harness(config, db)
    fake_stripe.clock = harness.clock
    try:
        yield harness
    finally:
        await harness.donations.aclose()


async def every_row(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the database has (sqlite_master), by table."""
    tables = await db.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")
    out: dict[str, list[dict[str, Any]]] = {}
    for t in tables:
        name = str(t["name"])
        rows = await db.fetch_all(f'SELECT * FROM "{name}"')
        out[name] = [{k: row[k] for k in row.keys()} for row in rows]  # noqa: SIM118
    return out


async def thanked_donation(
    h: Harness, fake: FakeStripe, *, chosen: str | None = None, app: str | None = None
) -> tuple[float, str]:
    """A donor (who chose the language `chosen`, or whose app reads `app`) asks to be
    told, pays, is thanked; the payment's exact time at Stripe and the thank-you."""
    donor = Chat(make_router(h), user=DONOR)
    donor.sender = Sender("console", DONOR, language_code=app)
    if chosen:
        await donor.send(f"/language {chosen}")
    h.clock.now += 37 * 60 + 13.25  # 00:37:13.25, not on the hour
    reply = await donor.send("/donate russia 50 notify")
    session_id = render_plain(reply).split("/c/pay/")[1].split()[0]
    h.clock.now += 4 * 60 + 2.5
    paid_at = h.clock()
    assert await h.apply(fake.complete_session(session_id)) == 1
    h.clock.now += 1.5
    await h.deliver()
    (thanks,) = h.adapter.texts(DONOR)
    return paid_at, thanks


async def test_no_table_joins_the_donor_chat_to_the_payment(
    h: Harness, fake_stripe: FakeStripe
) -> None:
    paid_at, thanks = await thanked_donation(h, fake_stripe, chosen="uk")
    assert "Зв’язку між цим чатом і вашим платежем я більше не зберігаю." in thanks
    (payment,) = [e for e in await lq.all_entries(h.db) if e.kind == "payment"]
    assert payment.object_id.startswith("cs_test_")
    tables = await every_row(h.db)
    assert tables["deliveries"], "the thank-you went through the outbox"
    assert "people" in tables, "the scan reads every table, the donor's language among them"
    naming = []
    for table, rows in tables.items():
        for row in rows:
            if any(DONOR in str(value) for value in row.values()):
                naming.append(row)
                # Only the person's own language choice names the donor's chat.
                assert table == "people", f"{table} names the donor: {row!r}"
                assert set(row) == PERSON_COLUMNS, f"people gained a column: {row!r}"
                continue
            for column, value in row.items():
                where = f"{table}.{column} = {value!r}"
                # No time near the payment finer than the hour: every donation-related
                # time of that hour is the same rounded value, so no order or nearness of
                # times picks out this payment among the hour's others.
                if isinstance(value, int | float) and abs(value - paid_at) <= 2 * HOUR:
                    assert value % HOUR == 0, where
    assert naming == [{"platform": "console", "user_id": DONOR, "language": "uk"}]
    assert payment.occurred_at % HOUR == 0
    assert payment.recorded_at % HOUR == 0


async def test_the_thank_you_row_keeps_neither_chat_nor_text(
    h: Harness, fake_stripe: FakeStripe
) -> None:
    _, thanks = await thanked_donation(h, fake_stripe)
    assert "I no longer keep the link between this chat and your payment." in thanks
    rows = await h.db.fetch_all(
        "SELECT d.chat_id AS chat_id, d.message_id AS message_id, i.post AS post, "
        "d.state AS state FROM deliveries d JOIN outbox_items i ON i.id = d.item_id "
        "WHERE i.kind = 'thanks'"
    )
    assert [(r["chat_id"], r["message_id"], r["state"]) for r in rows] == [("", None, "sent")]
    assert "arrived" not in rows[0]["post"]
    assert await tq.thank_link_count(h.db) == 0


async def test_the_thank_you_reads_the_app_language_and_leaves_no_person_row(
    h: Harness, fake_stripe: FakeStripe
) -> None:
    # The language travels on the thank-you link and is forgotten with it: asking to be
    # thanked writes nothing about the donor that outlives the thank-you.
    _, thanks = await thanked_donation(h, fake_stripe, app="ru-RU")
    assert "Ваше пожертвование" in thanks
    assert "Связь между этим чатом и вашим платежом я больше не храню." in thanks
    tables = await every_row(h.db)
    assert not [
        (table, row)
        for table, rows in tables.items()
        for row in rows
        if any(DONOR in str(value) for value in row.values())
    ]
