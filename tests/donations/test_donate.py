"""/donate, /progress, /record and /unrecord through the command router."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.app import build_app
from bot.chat import ChatKind, ChatRef, Incoming, Post, Sender
from bot.chat.plain import render_plain
from bot.router import CommandRouter
from bot.storage import Database
from tests.donations.conftest import BELARUS, RUSSIA, TOKYO, Harness, donation_config, make_harness
from tests.fakes.recording import RecordingAdapter
from tests.fakes.stripe_api import FakeStripe, checkout_completed


def make_router(h: Harness) -> CommandRouter:
    return h.router


class Chat:
    """Someone typing commands in one chat."""

    def __init__(
        self, router: CommandRouter, user: str = "alice", kind: ChatKind = ChatKind.PRIVATE
    ) -> None:
        self.router = router
        self.chat = ChatRef("console", user if kind is ChatKind.PRIVATE else "group", kind)
        self.sender = Sender("console", user)
        self.n = 0

    async def send(self, text: str) -> Post:
        self.n += 1
        reply = await self.router.handle(Incoming(self.chat, self.sender, text, str(self.n)))
        assert isinstance(reply, Post)
        return reply


def commands(post: Post) -> list[str]:
    return [b.command for row in post.buttons for b in row if b.command]


def labels(post: Post) -> list[str]:
    return [b.label for row in post.buttons for b in row]


async def _harness(
    tmp_path: Path, db: Database, campaigns: Sequence[dict[str, Any]], **kw: Any
) -> AsyncIterator[Harness]:
    h = make_harness(donation_config(tmp_path, list(campaigns), **kw), db)
    try:
        yield h
    finally:
        await h.donations.aclose()


@pytest.fixture
async def one(tmp_path: Path, db: Database) -> AsyncIterator[Harness]:
    async for h in _harness(tmp_path, db, [{**RUSSIA, "deadline": "2026-01-10"}]):
        yield h


@pytest.fixture
async def several(tmp_path: Path, db: Database) -> AsyncIterator[Harness]:
    async for h in _harness(tmp_path, db, [RUSSIA, BELARUS, TOKYO]):
        yield h


async def test_one_campaign_goes_straight_to_the_amounts(one: Harness) -> None:
    reply = await Chat(make_router(one)).send("/donate")
    text = render_plain(reply)
    assert "Russian anti-war protesters" in text
    assert "earmarked “for Russian anti-war protesters”" in text
    assert labels(reply) == ["$10", "$25", "★ $50", "$100", "Any amount"]
    assert commands(reply) == [
        "/donate russia 10",
        "/donate russia 25",
        "/donate russia 50",
        "/donate russia 100",
        "/donate russia any",
    ]


async def test_choosing_an_amount_returns_the_earmarked_link(one: Harness) -> None:
    reply = await Chat(make_router(one)).send("/donate russia 50")
    url = (
        "https://donate.example.org/give?c=russia&a=50&cur=USD"
        "&note=for%20Russian%20anti-war%20protesters"
    )
    assert url in render_plain(reply)
    assert [(b.label, b.url) for row in reply.buttons for b in row] == [("Donate $50", url)]
    shortcut = await Chat(make_router(one)).send("/donate 50")
    assert url in render_plain(shortcut)
    anything = await Chat(make_router(one)).send("/donate russia any")
    assert "a=any" in render_plain(anything)


async def test_several_campaigns_pick_the_campaign_first(several: Harness) -> None:
    chat = Chat(make_router(several))
    menu = await chat.send("/donate")
    assert commands(menu) == ["/donate russia", "/donate belarus", "/donate tokyo"]
    carried = await chat.send("/donate 50")
    assert commands(carried) == ["/donate russia 50", "/donate belarus 50", "/donate tokyo 50"]
    euros = await chat.send("/donate belarus")
    assert labels(euros) == ["€5", "★ €20", "€50", "Any amount"]
    yen = await chat.send("/donate tokyo")
    assert labels(yen)[:2] == ["¥1,000", "★ ¥5,000"]
    assert commands(yen)[:2] == ["/donate tokyo 1000", "/donate tokyo 5000"]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("/donate russia 0", "The amount must be more than zero."),
        ("/donate russia abc", "“abc” is not an amount."),
        ("/donate russia 12.345", "USD amounts have at most 2 decimals."),
        ("/donate tokyo 10.5", "JPY amounts have no decimals."),
        ("/donate russia 1000000000", "That is more than one payment can take"),
        ("/donate nowhere", "I don't know the campaign “nowhere”."),
        ("/donate russia 50 please", "Usage: /donate russia AMOUNT"),
    ],
)
async def test_bad_choices_get_clear_answers(several: Harness, text: str, answer: str) -> None:
    reply = await Chat(make_router(several)).send(text)
    assert answer in render_plain(reply)


async def test_amounts_beyond_the_suggestions_only_when_allowed(
    tmp_path: Path, db: Database
) -> None:
    async for h in _harness(tmp_path, db, [{**RUSSIA, "custom_amount": False}]):
        chat = Chat(make_router(h))
        assert "Any amount" not in labels(await chat.send("/donate"))
        refused = render_plain(await chat.send("/donate russia 30"))
        assert "suggested amounts only" in refused
        assert "a=25" in render_plain(await chat.send("/donate russia 25"))


async def test_an_inactive_campaign_is_not_offered(tmp_path: Path, db: Database) -> None:
    async for h in _harness(tmp_path, db, [RUSSIA, {**BELARUS, "active": False}]):
        chat = Chat(make_router(h))
        assert "not taking donations" in render_plain(await chat.send("/donate belarus 20"))
        assert "a=50" in render_plain(await chat.send("/donate 50"))


async def test_progress_shows_total_bar_count_and_days_left(one: Harness) -> None:
    await one.apply(
        checkout_completed("cs_1", 600000),
        checkout_completed("cs_2", 634000),
        checkout_completed("cs_3", 20000, "eur"),
    )
    reply = await Chat(make_router(one)).send("/progress")
    text = render_plain(reply)
    assert (
        "Support Russian anti-war protesters — $12,340 of $20,000 (62%) ▓▓▓▓▓▓░░░░"
        " · 2 donations · 9 days left"  # the EUR gift is listed apart, not counted here
    ) in text
    assert "Also received: €200" in text
    assert reply.image_png is not None
    card = Image.open(io.BytesIO(reply.image_png))
    assert card.format == "PNG"
    assert card.size[0] == 720
    assert len(reply.image_png) < 60_000


async def test_progress_of_one_campaign_and_of_an_unknown_one(several: Harness) -> None:
    chat = Chat(make_router(several))
    text = render_plain(await chat.send("/progress tokyo"))
    assert "Support Tokyo shelter — ¥0 of ¥1,000,000 (0%) ░░░░░░░░░░ · 0 donations" in text
    assert "Belarus" not in text
    assert "I don't know the campaign “x”" in render_plain(await chat.send("/progress x"))


async def test_record_and_unrecord_are_for_admins(several: Harness) -> None:
    router = make_router(several)
    alice, admin = Chat(router, "alice"), Chat(router, "admin")
    refused = await alice.send("/record belarus 500 EUR")
    assert "not available to you" in render_plain(refused)
    recorded = render_plain(await admin.send("/record belarus 500 eur bank transfer"))
    assert "Recorded gift #1: €500 to Belarusian political prisoners." in recorded
    assert "/unrecord 1" in recorded
    assert "€500 of €5,000 (10%)" in render_plain(await alice.send("/progress belarus"))
    assert "Removed gift #1" in render_plain(await admin.send("/unrecord 1"))
    assert "already removed" in render_plain(await admin.send("/unrecord 1"))
    assert "no ledger entry #7" in render_plain(await admin.send("/unrecord 7"))
    assert "Usage" in render_plain(await admin.send("/record belarus"))
    assert "not a currency code" in render_plain(await admin.send("/record belarus 5 euro"))
    assert "no decimals" in render_plain(await admin.send("/record tokyo 5.5 JPY"))
    help_text = render_plain(await admin.send("/help"))
    assert "/record CAMPAIGN AMOUNT CURRENCY [note]" in help_text


async def test_notify_is_offered_in_private_chats_with_stripe(
    tmp_path: Path, db: Database, fake_stripe: FakeStripe
) -> None:
    stripe = {"api_base": fake_stripe.base_url, "max_network_retries": 0}
    async for h in _harness(tmp_path, db, [RUSSIA], provider="stripe", stripe=stripe):
        router = make_router(h)
        reply = await Chat(router).send("/donate russia 50")
        assert commands(reply) == ["/donate russia 50 notify"]
        assert "https://checkout.stripe.test/" in render_plain(reply)
        told = render_plain(await Chat(router).send("/donate russia 50 notify"))
        assert "I will message you here once" in told
        group = await Chat(router, kind=ChatKind.GROUP).send("/donate russia 50 notify")
        assert "only in a private chat" in render_plain(group)
        assert commands(group) == []
        fake_stripe.fail_next(1, 500)
        down = render_plain(await Chat(router).send("/donate russia 25"))
        assert "The payment service is not answering right now" in down


async def test_static_links_do_not_offer_notify(one: Harness) -> None:
    reply = await Chat(make_router(one)).send("/donate russia 50 notify")
    assert "does not tell me when a payment arrives" in render_plain(reply)
    assert commands(reply) == []


async def test_without_campaigns_the_donation_commands_are_not_offered(
    tmp_path: Path, db: Database
) -> None:
    app = build_app(donation_config(tmp_path, []), db, adapters={"console": RecordingAdapter()})
    assert app.services.donations is None
    chat = Chat(app.router)
    assert "I don't know /donate" in render_plain(await chat.send("/donate"))
    assert "I don't know /progress" in render_plain(await chat.send("/progress"))
    assert "/donate" not in render_plain(await chat.send("/help"))


async def test_when_no_campaign_is_active(tmp_path: Path, db: Database) -> None:
    h = make_harness(donation_config(tmp_path, [{**RUSSIA, "active": False}]), db)
    chat = Chat(make_router(h))
    assert "No campaign is taking donations" in render_plain(await chat.send("/donate"))
    assert "No campaign is running" in render_plain(await chat.send("/progress"))


async def _press(router: CommandRouter, user: str) -> str:
    """Alice or Bob taps "$50" under the bot's menu in a group; the payment page's URL."""
    group = ChatRef("console", "group", ChatKind.GROUP)
    # A button press carries the id of the bot's menu message, the same for everyone.
    tap = Incoming(group, Sender("console", user), "/donate russia 50", "menu-1")
    reply = await router.handle(tap)
    assert isinstance(reply, Post)
    (url,) = [b.url for row in reply.buttons for b in row if b.url]
    return url


async def test_two_people_pressing_the_same_button_in_a_group_get_two_sessions(
    tmp_path: Path, db: Database, fake_stripe: FakeStripe
) -> None:
    stripe = {"api_base": fake_stripe.base_url}
    async for h in _harness(tmp_path, db, [RUSSIA], provider="stripe", stripe=stripe):
        router = make_router(h)
        alice, bob = await _press(router, "alice"), await _press(router, "bob")
        assert alice != bob
        assert await _press(router, "alice") == alice  # the same tap delivered twice
        fake_stripe.complete_session(alice.rsplit("/", 1)[-1])
        # Alice gives again: a new page, not the paid one.
        assert await _press(router, "alice") not in {alice, bob}
        assert await _press(router, "bob") == bob
