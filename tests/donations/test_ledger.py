"""The ledger: payments, refunds, disputes, gifts, unknown campaigns, milestones, thank-yous."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.chat import ChatRef
from bot.donations.ledger import Unrecorded
from bot.storage import Database, open_database
from bot.storage import ledger as lq
from bot.storage import thanks as tq
from tests.donations.conftest import RUSSIA, TOKYO, Harness, donation_config, make_harness
from tests.fakes.stripe_api import (
    async_failed,
    async_succeeded,
    charge_refunded,
    checkout_completed,
    dispute_event,
)


async def test_a_paid_checkout_counts_once_however_often_it_arrives(harness: Harness) -> None:
    paid = checkout_completed("cs_1", 5000)
    assert await harness.apply(paid) == 1
    assert await harness.apply(paid, paid) == 0
    # The same payment announced by its other event is the same entry.
    assert await harness.apply(async_succeeded("cs_1", 5000)) == 0
    (progress,) = await harness.donations.ledger.progress(["russia"])
    assert (progress.raised, progress.donations) == (5000, 1)


async def test_a_delayed_payment_counts_only_when_it_succeeds(harness: Harness) -> None:
    await harness.apply(checkout_completed("cs_1", 5000, paid=False))
    assert await harness.raised("russia") == 0
    await harness.apply(async_succeeded("cs_1", 5000))
    await harness.apply(checkout_completed("cs_2", 7000, paid=False), async_failed("cs_2", 7000))
    (progress,) = await harness.donations.ledger.progress(["russia"])
    assert (progress.raised, progress.donations) == (5000, 1)


async def test_partial_and_repeated_refunds_subtract_the_largest_cumulative_amount(
    harness: Harness,
) -> None:
    await harness.apply(checkout_completed("cs_1", 10000, payment_intent="pi_1"))
    first = charge_refunded("ch_1", "pi_1", 10000, 2000)
    second = charge_refunded("ch_1", "pi_1", 10000, 5000)
    await harness.apply(first, second, first, second)
    (progress,) = await harness.donations.ledger.progress(["russia"])
    assert (progress.raised, progress.donations) == (5000, 1)
    await harness.apply(charge_refunded("ch_1", "pi_1", 10000, 10000))
    assert await harness.raised("russia") == 0


async def test_a_refund_before_its_payment_still_finds_the_campaign(harness: Harness) -> None:
    await harness.apply(charge_refunded("ch_1", "pi_1", 10000, 4000))
    totals = await harness.donations.ledger.totals()
    assert totals["unassigned"]["USD"].net == -4000  # no payment yet to find the campaign by
    await harness.apply(checkout_completed("cs_1", 10000, payment_intent="pi_1"))
    totals = await harness.donations.ledger.totals()
    assert "unassigned" not in totals
    assert totals["russia"]["USD"].net == 6000


async def test_a_lost_dispute_subtracts_once_and_a_won_one_restores(harness: Harness) -> None:
    await harness.apply(
        checkout_completed("cs_1", 3000, payment_intent="pi_1"),
        checkout_completed("cs_2", 4000, payment_intent="pi_2"),
    )
    lost = [
        dispute_event("created", "dp_1", "pi_1", 3000),
        dispute_event("funds_withdrawn", "dp_1", "pi_1", 3000),
        dispute_event("closed", "dp_1", "pi_1", 3000, status="lost"),
    ]
    won = [
        dispute_event("created", "dp_2", "pi_2", 4000),
        dispute_event("funds_withdrawn", "dp_2", "pi_2", 4000),
        dispute_event("funds_reinstated", "dp_2", "pi_2", 4000),
        dispute_event("closed", "dp_2", "pi_2", 4000, status="won"),
    ]
    await harness.apply(lost[0])
    assert await harness.raised("russia") == 7000  # opened: nothing withdrawn yet
    await harness.apply(*lost, *won, *reversed(lost))
    assert await harness.raised("russia") == 4000


async def test_zero_decimal_currency_amounts_are_whole_yen(harness: Harness) -> None:
    await harness.apply(checkout_completed("cs_1", 5000, "jpy", campaign="tokyo"))
    (progress,) = await harness.donations.ledger.progress(["tokyo"])
    assert progress.raised == 5000
    assert progress.campaign.goal == 1_000_000
    assert progress.campaign.amounts == (1000, 5000)


async def test_currencies_are_never_added_together(harness: Harness) -> None:
    await harness.apply(
        checkout_completed("cs_1", 5000, "usd"),
        checkout_completed("cs_2", 3000, "eur"),
    )
    (progress,) = await harness.donations.ledger.progress(["russia"])
    assert progress.raised == 5000
    assert progress.others == (("EUR", 3000),)
    assert progress.donations == 1  # like the amount: the campaign's currency only


async def test_unknown_campaign_is_kept_unassigned_and_admins_hear_once(
    harness: Harness,
) -> None:
    stray = checkout_completed("cs_x", 2500, campaign="nowhere")
    await harness.apply(stray, stray, async_succeeded("cs_x", 2500, campaign="nowhere"))
    await harness.apply(checkout_completed("cs_y", 1000, campaign=None))
    await harness.deliver()
    totals = await harness.donations.ledger.totals()
    assert totals["unassigned"]["USD"].net == 3500
    notices = harness.admin()
    assert len(notices) == 2
    assert "unknown campaign 'nowhere'" in notices[0]
    assert "cs_x" in notices[0]
    assert "named no campaign" in notices[1]


async def test_offline_gifts_are_recorded_and_undone_without_deleting(harness: Harness) -> None:
    ledger = harness.donations.ledger
    gift = await ledger.record_gift("belarus", 50000, "EUR", "bank transfer")
    (progress,) = await ledger.progress(["belarus"])
    assert (progress.raised, progress.donations) == (50000, 1)
    assert (await ledger.unrecord(gift)).outcome is Unrecorded.DONE
    assert (await ledger.unrecord(gift)).outcome is Unrecorded.ALREADY
    (progress,) = await ledger.progress(["belarus"])
    assert (progress.raised, progress.donations) == (0, 0)
    await harness.apply(checkout_completed("cs_1", 100))
    payment = (await lq.all_entries(harness.db))[-1].id
    assert (await ledger.unrecord(payment)).outcome is Unrecorded.NOT_A_GIFT
    assert (await ledger.unrecord(9999)).outcome is Unrecorded.NOT_FOUND
    assert [e.kind for e in await lq.all_entries(harness.db)] == ["gift", "gift_void", "payment"]


async def test_ledger_entries_cannot_be_changed_or_deleted(harness: Harness) -> None:
    await harness.apply(checkout_completed("cs_1", 100))
    with pytest.raises(Exception, match="append-only"):
        await harness.db.execute("UPDATE ledger_entries SET amount = 1")
    with pytest.raises(Exception, match="append-only"):
        await harness.db.execute("DELETE FROM ledger_entries")


async def test_thank_you_is_sent_once_and_the_link_forgotten(harness: Harness) -> None:
    alice = ChatRef("console", "alice")
    token = await harness.donations.ledger.thank_token("request-1", alice)
    assert await harness.donations.ledger.thank_token("request-1", alice) == token
    paid = checkout_completed("cs_1", 5000, thank_token=token)
    await harness.apply(paid, paid, async_succeeded("cs_1", 5000, thank_token=token))
    await harness.deliver()
    (thanks,) = harness.adapter.texts("alice")
    assert "Your donation to Russian anti-war protesters has arrived. Thank you!" in thanks
    assert "$50" not in thanks
    assert await tq.thank_link_count(harness.db) == 0


async def test_a_malformed_event_is_ignored(harness: Harness) -> None:
    broken = checkout_completed("cs_1", 5000)
    del broken["data"]["object"]["amount_total"]
    assert await harness.apply(broken, {"type": "checkout.session.completed"}) == 0
    assert await harness.apply({"type": "customer.created", "id": "evt_1"}) == 0


async def _run(tmp_path: Path, *events: dict[str, object]) -> list[str]:
    """Open the database afresh (a restart), apply events, deliver; the channel's posts."""
    config = donation_config(tmp_path, [RUSSIA, TOKYO])
    async with open_database(tmp_path / "bot.sqlite3") as db:
        h = make_harness(config, db)
        await h.apply(*events)
        await h.deliver()
        return h.channel()


async def test_each_milestone_is_posted_once_across_restarts_and_replays(tmp_path: Path) -> None:
    first = checkout_completed("cs_1", 600000)  # $6,000 of $20,000: 30%
    assert len(await _run(tmp_path, first)) == 1
    assert await _run(tmp_path, first, first) == []
    second = checkout_completed("cs_2", 500000)  # 55%
    posts = await _run(tmp_path, first, second, second)
    assert len(posts) == 1
    assert "50% of the goal reached" in posts[0]
    assert "$11,000 of $20,000 raised" in posts[0]
    big = checkout_completed("cs_3", 1000000)  # 105%: 75% and 100% at once, one post
    posts = await _run(tmp_path, big, first, second)
    assert len(posts) == 1
    assert "the goal is reached" in posts[0]
    assert await _run(tmp_path, big, first, second, checkout_completed("cs_4", 100)) == []
    async with open_database(tmp_path / "bot.sqlite3") as db:
        assert await lq.milestones(db, "russia") == [25, 50, 75, 100]


async def test_a_refund_below_a_milestone_does_not_repost_it(tmp_path: Path) -> None:
    paid = checkout_completed("cs_1", 600000, payment_intent="pi_1")
    assert len(await _run(tmp_path, paid)) == 1
    await _run(tmp_path, charge_refunded("ch_1", "pi_1", 600000, 600000))
    assert await _run(tmp_path, checkout_completed("cs_2", 600000)) == []


async def test_milestones_of_a_campaign_without_channels_are_only_recorded(
    tmp_path: Path, db: Database
) -> None:
    h = make_harness(donation_config(tmp_path, [{**RUSSIA, "channels": []}]), db)
    await h.apply(checkout_completed("cs_1", 2_000_000))
    await h.deliver()
    assert h.channel() == []
    assert await lq.milestones(db, "russia") == [25, 50, 75, 100]


async def test_a_pending_thank_you_link_can_be_shown_and_forgotten(harness: Harness) -> None:
    await harness.donations.ledger.thank_token("request-1", ChatRef("console", "alice"))
    assert await tq.thank_links_of(harness.db, "console", ["alice"]) == 1
    async with harness.db.transaction() as conn:
        await tq.forget_thank_links(conn, "console", ["alice"])
    assert await tq.thank_links_of(harness.db, "console", ["alice"]) == 0
