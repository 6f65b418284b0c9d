"""WebSub: subscribe at the feed's hub, answer its verification, take signed pushes only,
renew the lease, unsubscribe removed feeds; polling goes on (slower) as a safety net."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.chat import ChatRef, Incoming, Post, Sender
from bot.chat.plain import render_plain
from bot.feeds.fetch import MAX_BYTES
from bot.i18n import Lang
from bot.storage import feeds as fq
from bot.storage import websub as ws
from handlers.push_state import describe
from tests.feeds.websub_rig import Rig, websub_bot


async def subscribed(rig: Rig) -> ws.Subscription:
    await rig.hub.wait_until(lambda: bool(rig.hub.live(rig.topic)))
    sub = await ws.get(rig.app.db, "org")
    assert sub is not None
    assert sub.state == ws.SUBSCRIBED
    return sub


async def test_a_push_reaches_the_channel_without_a_poll(tmp_path: Path) -> None:
    async with websub_bot(tmp_path) as rig:
        await subscribed(rig)
        asked = rig.hub.requests[0]
        assert asked["hub.mode"] == "subscribe"
        assert asked["hub.topic"] == rig.topic
        assert asked["hub.callback"] == rig.callback
        assert len(asked["hub.secret"]) == 64
        assert int(asked["hub.lease_seconds"]) > 0
        await rig.hub.wait_until(lambda: any("First" in p for p in rig.posts()))
        fetches = len(rig.feeds.requests)

        body = rig.publish_locally("Second", "First")
        started = time.monotonic()
        assert await rig.hub.publish(rig.topic, body) == [204]
        await rig.hub.wait_until(lambda: any("Second" in p for p in rig.posts()), 5)
        assert time.monotonic() - started < 2
        assert len(rig.feeds.requests) == fetches  # pushed, not polled
        assert sum("Second" in p for p in rig.posts()) == 1

        # Pushed again (a hub may), then polled: dedup posts it once.
        assert await rig.hub.publish(rig.topic, body) == [204]
        await rig.app.services.poller.poll_all()
        await asyncio.sleep(0.3)  # time for a second post to go out, were there one
        assert sum("Second" in p for p in rig.posts()) == 1


async def test_polling_slows_down_while_the_hub_pushes(tmp_path: Path) -> None:
    async with websub_bot(tmp_path) as rig:
        await subscribed(rig)
        await rig.app.services.poller.poll_all()
        row = await fq.get_feed(rig.app.db, "org")
        assert row is not None
        assert row.next_poll_at - time.time() > 3600 * 0.85
        line = describe(await ws.get(rig.app.db, "org"), time.time(), Lang.of("en"))
        assert line.startswith("push: subscribed until ")
        admin = Incoming(ChatRef("console", "admin"), Sender("console", "admin"), "/feeds", "9")
        reply = await rig.app.router.handle(admin)
        assert isinstance(reply, Post)
        assert "push: subscribed until " in render_plain(reply)


async def test_forged_unsigned_and_oversize_pushes_change_nothing(tmp_path: Path) -> None:
    async with websub_bot(tmp_path) as rig:
        sub = await subscribed(rig)
        await rig.hub.wait_until(lambda: any("First" in p for p in rig.posts()))
        body = rig.publish_locally("Forged", "First")
        assert await rig.hub.publish(rig.topic, body, forge=True) == [403]
        assert await rig.hub.publish(rig.topic, body, sign=None) == [401]
        wrong_method = {"X-Hub-Signature": "md5=" + hashlib.md5(body).hexdigest()}
        assert await rig.hub.post(rig.callback, body, wrong_method) == 400
        huge = body + b" " * MAX_BYTES
        signed = hmac.new(sub.secret.encode(), huge, hashlib.sha256).hexdigest()
        assert (
            await rig.hub.post(rig.callback, huge, {"X-Hub-Signature": f"sha256={signed}"}) == 413
        )
        # Not a feed of ours: no subscription there.
        assert await rig.hub.post(f"{rig.public_url}/websub/other", body, {}) == 404
        seen = await fq.seen_articles(rig.app.db, "org")
        assert "Forged" not in seen
        assert not any("Forged" in p for p in rig.posts())

        # The same body signed with sha1 and the right secret is taken.
        assert await rig.hub.publish(rig.topic, body, sign="sha1") == [204]
        await rig.hub.wait_until(lambda: any("Forged" in p for p in rig.posts()), 5)


async def test_verification_is_answered_only_for_what_the_bot_asked(tmp_path: Path) -> None:
    async with websub_bot(tmp_path) as rig:
        await subscribed(rig)
        other_topic = {
            "hub.mode": "subscribe",
            "hub.topic": "http://x.example/",
            "hub.challenge": "c1",
        }
        assert (await rig.hub.get(rig.callback, other_topic))[0] == 404
        unasked = {"hub.mode": "unsubscribe", "hub.topic": rig.topic, "hub.challenge": "c2"}
        assert (await rig.hub.get(rig.callback, unasked))[0] == 404
        assert (await ws.get(rig.app.db, "org")) is not None
        unknown_feed = {"hub.mode": "subscribe", "hub.topic": rig.topic, "hub.challenge": "c3"}
        assert (await rig.hub.get(f"{rig.public_url}/websub/nope", unknown_feed))[0] == 404
        renewal = {"hub.mode": "subscribe", "hub.topic": rig.topic, "hub.challenge": "c4",
                   "hub.lease_seconds": "100"}  # fmt: skip
        assert await rig.hub.get(rig.callback, renewal) == (200, "c4")


async def test_the_lease_is_renewed_before_it_ends(tmp_path: Path) -> None:
    async with websub_bot(tmp_path, lease=2) as rig:
        first = await subscribed(rig)
        assert first.lease_until is not None
        await rig.hub.wait_until(lambda: time.time() > first.lease_until - 0.35, 3)  # type: ignore[operator]
        await rig.app.services.websub.tend()  # type: ignore[union-attr]
        await rig.hub.wait_until(lambda: len(rig.hub.verifications) == 2)
        renewed = await ws.get(rig.app.db, "org")
        assert renewed is not None
        assert renewed.lease_until is not None
        assert renewed.lease_until > first.lease_until
        assert renewed.secret == first.secret
        assert [r["hub.mode"] for r in rig.hub.requests] == ["subscribe", "subscribe"]


async def test_a_lease_that_ends_with_the_hub_down_returns_to_polling(tmp_path: Path) -> None:
    async with websub_bot(tmp_path, lease=1) as rig:
        first = await subscribed(rig)
        rig.hub.down = True
        assert first.lease_until is not None
        await rig.hub.wait_until(lambda: time.time() > first.lease_until - 0.2, 3)  # type: ignore[operator]
        await rig.app.services.websub.tend()  # type: ignore[union-attr]
        await rig.hub.wait_until(lambda: time.time() > first.lease_until + 0.05, 3)  # type: ignore[operator]
        websub = rig.app.services.websub
        assert websub is not None
        assert not await websub.pushing("org")
        line = describe(await ws.get(rig.app.db, "org"), time.time(), Lang.of("en"))
        assert line.startswith("push: the lease ended")
        body = rig.publish_locally("Third", "First")
        assert await rig.hub.publish(rig.topic, body) == []  # the hub pushes no more
        await rig.app.services.poller.poll_all()
        assert await _delivered(rig, "Third")
        row = await fq.get_feed(rig.app.db, "org")
        assert row is not None
        assert row.next_poll_at - time.time() < 600 * 1.15


async def test_a_hub_that_is_down_leaves_polling_as_it_was(tmp_path: Path) -> None:
    async with websub_bot(tmp_path, hub_down=True) as rig:
        await rig.hub.wait_until(lambda: any("First" in p for p in rig.posts()))

        async def failed() -> bool:
            sub = await ws.get(rig.app.db, "org")
            return sub is not None and sub.state == ws.FAILED

        await _until(failed)
        sub = await ws.get(rig.app.db, "org")
        assert sub is not None
        assert "503" in (sub.error or "")
        rig.publish_locally("Polled", "First")
        await rig.app.services.poller.poll_all()
        assert await _delivered(rig, "Polled")
        row = await fq.get_feed(rig.app.db, "org")
        assert row is not None
        assert row.next_poll_at - time.time() < 600 * 1.15


async def test_a_feed_removed_from_the_config_is_unsubscribed(tmp_path: Path) -> None:
    async with websub_bot(tmp_path) as rig:
        await subscribed(rig)
        now = time.time()
        gone = ws.Subscription(
            "gone", rig.hub.url, "http://127.0.0.1/old.xml", "s" * 64, True, ws.SUBSCRIBED,
            100.0, now + 100, now, None,
        )  # fmt: skip
        await ws.request(rig.app.db, gone)
        await rig.app.services.websub.tend()  # type: ignore[union-attr]
        await rig.hub.wait_until(lambda: ("unsubscribe", 200, True) in rig.hub.verifications)
        assert rig.hub.requests[-1]["hub.mode"] == "unsubscribe"
        assert rig.hub.requests[-1]["hub.callback"] == f"{rig.public_url}/websub/gone"
        assert await ws.get(rig.app.db, "gone") is None
        assert await ws.get(rig.app.db, "org") is not None


async def _until(check: Callable[[], Awaitable[bool]], limit: float = 5.0) -> None:
    """Wait (bounded) until `check()` holds: the bot's database has no event to wait on."""
    async with asyncio.timeout(limit):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def _delivered(rig: Rig, title: str) -> bool:
    await rig.hub.wait_until(lambda: any(title in p for p in rig.posts()), 5)
    return True
