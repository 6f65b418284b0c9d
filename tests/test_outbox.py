"""The outbox: delivery outcomes, crash recovery and pacing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import build_app
from bot.chat import ChatGone, MaybeDelivered, Post, RateLimited, Rejected, Transient
from bot.context import Services
from bot.outbox import Item
from bot.outbox.delivery import DeliveryPolicy, DeliveryWorker
from bot.outbox.pacing import Pacer
from bot.storage import Database
from bot.storage import feeds as fq
from bot.storage import outbox as q
from tests.fakes.recording import RecordingAdapter
from tests.helpers import FakeClock, make_config


def services_for(tmp_path: Path, db: Database) -> Services:
    config = make_config(
        tmp_path, channels=[{"name": "news", "platform": "console", "chat": "news"}]
    )
    return build_app(config, db, adapters={"console": RecordingAdapter()}).services


def worker_for(
    services: Services, adapter: RecordingAdapter, *, resend: bool = True, attempts: int = 3
) -> DeliveryWorker:
    return DeliveryWorker(
        services.db,
        adapter,
        DeliveryPolicy(resend_uncertain=resend, max_attempts=attempts, base_backoff=0.0),
        on_gone=services.audience.on_gone,
        on_failed=services.audience.on_failed,
    )


async def states(db: Database) -> dict[str, str]:
    rows = await db.fetch_all("SELECT chat_id, state FROM deliveries WHERE target != 'admin'")
    return {r["chat_id"]: r["state"] for r in rows}


async def test_every_target_gets_the_item_once(tmp_path: Path, db: Database) -> None:
    services = services_for(tmp_path, db)
    for user in ("u1", "u2", "u3"):
        await fq.save_subscriber(db, "console", user, [], 0)
    targets = await services.audience.channel_targets(["news"])
    targets += await services.audience.subscriber_targets(set())
    await services.outbox.enqueue_alone(Item("announcement", Post.text("Hello all")), targets)
    adapter = RecordingAdapter()
    await worker_for(services, adapter).drain(horizon=0.0, limit=10.0)
    assert sorted(chat for chat, _, _ in adapter.sent) == ["news", "u1", "u2", "u3"]
    assert len({key for _, key, _ in adapter.sent}) == 4
    assert set((await states(db)).values()) == {"sent"}
    await worker_for(services, adapter).drain(horizon=0.0, limit=10.0)
    assert len(adapter.sent) == 4  # nothing is sent twice


async def test_blocked_subscriber_is_deactivated(tmp_path: Path, db: Database) -> None:
    services = services_for(tmp_path, db)
    await fq.save_subscriber(db, "console", "u1", [], 0)
    targets = await services.audience.subscriber_targets(set())
    adapter = RecordingAdapter(failures={"u1": [ChatGone("blocked by the user")]})
    await services.outbox.enqueue_alone(Item("article", Post.text("one")), targets)
    await services.outbox.enqueue_alone(Item("article", Post.text("two")), targets)
    await worker_for(services, adapter).drain(horizon=0.0, limit=10.0)
    assert adapter.texts("u1") == []
    assert await fq.get_subscriber(db, "console", "u1") is None
    rows = await db.fetch_all("SELECT state FROM deliveries WHERE chat_id = 'u1'")
    assert [r["state"] for r in rows] == ["gone", "gone"]
    assert await services.audience.subscriber_targets(set()) == []


async def test_gone_channel_is_flagged_and_admins_told_once(tmp_path: Path, db: Database) -> None:
    services = services_for(tmp_path, db)
    adapter = RecordingAdapter(failures={"news": [ChatGone("bot was kicked"), ChatGone("x")]})
    worker = worker_for(services, adapter)
    for text in ("one", "two"):
        targets = await services.audience.channel_targets(["news"])
        await services.outbox.enqueue_alone(Item("article", Post.text(text)), targets)
        await worker.drain(horizon=0.0, limit=10.0)
    admin = adapter.texts("admin")
    assert len(admin) == 1
    assert "Channel 'news' (console) no longer accepts posts: bot was kicked" in admin[0]
    assert await services.audience.channel_targets(["news"]) == []


async def test_transient_errors_retry_then_give_up_and_tell_admins(
    tmp_path: Path, db: Database
) -> None:
    services = services_for(tmp_path, db)
    adapter = RecordingAdapter(
        failures={"news": [Transient("reset"), Transient("reset"), Transient("reset")]}
    )
    targets = await services.audience.channel_targets(["news"])
    await services.outbox.enqueue_alone(Item("article", Post.text("hi")), targets)
    await worker_for(services, adapter, attempts=3).drain(horizon=5.0, limit=10.0)
    assert (await states(db))["news"] == "failed"
    assert "gave up after 3 attempts" in adapter.texts("admin")[0]


async def test_transient_error_then_success(tmp_path: Path, db: Database) -> None:
    services = services_for(tmp_path, db)
    adapter = RecordingAdapter(failures={"news": [Transient("reset")]})
    targets = await services.audience.channel_targets(["news"])
    await services.outbox.enqueue_alone(Item("article", Post.text("hi")), targets)
    await worker_for(services, adapter).drain(horizon=5.0, limit=10.0)
    assert adapter.texts("news") == ["hi"]
    assert (await states(db))["news"] == "sent"


async def test_rejected_is_not_retried(tmp_path: Path, db: Database) -> None:
    services = services_for(tmp_path, db)
    adapter = RecordingAdapter(failures={"news": [Rejected("message is too long")]})
    targets = await services.audience.channel_targets(["news"])
    await services.outbox.enqueue_alone(Item("article", Post.text("hi")), targets)
    await worker_for(services, adapter).drain(horizon=5.0, limit=10.0)
    assert (await states(db))["news"] == "failed"
    assert adapter.texts("news") == []


@pytest.mark.parametrize(("resend", "final", "sent"), [(False, "unknown", 0), (True, "sent", 1)])
async def test_maybe_delivered_follows_the_platform_rule(
    tmp_path: Path, db: Database, resend: bool, final: str, sent: int
) -> None:
    services = services_for(tmp_path, db)
    adapter = RecordingAdapter(failures={"news": [MaybeDelivered("read timeout")]})
    targets = await services.audience.channel_targets(["news"])
    await services.outbox.enqueue_alone(Item("article", Post.text("hi")), targets)
    await worker_for(services, adapter, resend=resend).drain(horizon=5.0, limit=10.0)
    assert (await states(db))["news"] == final
    assert len(adapter.texts("news")) == sent


async def test_rate_limited_pauses_and_retries_without_counting(
    tmp_path: Path, db: Database
) -> None:
    services = services_for(tmp_path, db)
    adapter = RecordingAdapter(failures={"news": [RateLimited(0.2)]})
    targets = await services.audience.channel_targets(["news"])
    await services.outbox.enqueue_alone(Item("article", Post.text("hi")), targets)
    worker = worker_for(services, adapter)
    await worker.drain(horizon=5.0, limit=10.0)
    assert adapter.texts("news") == ["hi"]
    row = await db.fetch_one("SELECT attempts FROM deliveries WHERE chat_id = 'news'")
    assert row is not None
    assert row["attempts"] == 1


async def test_crash_recovery_resends_idempotent_platforms_only(db: Database) -> None:
    async with db.transaction() as tx:
        await q.insert_item(
            tx,
            kind="article",
            ref=None,
            post_json='{"blocks":[]}',
            targets=[
                q.Target("telegram", "t1", "channel", "channel:tg"),
                q.Target("matrix", "!room:x", "channel", "channel:mx"),
                q.Target("telegram", "t2", "private", "subscriber"),
            ],
        )
    rows = await db.fetch_all("SELECT id, chat_id FROM deliveries ORDER BY id")
    ids = {r["chat_id"]: r["id"] for r in rows}
    for chat in ("t1", "!room:x"):
        assert await q.claim(db, ids[chat], 0)
    await q.finish(db, ids["t2"], q.SENT, now=0, message_id="7")
    counts = await q.recover_sending(db, ["matrix"], 1.0)
    assert counts == {"resend": 1, "unknown": 1}
    after = await states(db)
    assert after == {"t1": "unknown", "!room:x": "pending", "t2": "sent"}
    # The re-sent row keeps its id, hence its key (Matrix's transaction id).
    due = await q.due_rows(db, "matrix", 2.0, 10)
    instance = await db.fetch_one("SELECT value FROM bot_state WHERE key = 'instance'")
    assert instance is not None
    assert len(instance[0]) == 16
    assert [r.key for r in due] == [f"outbox-{instance[0]}-{ids['!room:x']}"]


def test_pacer_global_rate_is_even_without_bursts() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(rate=30.0, burst=1, clock=clock)
    times: list[float] = []
    for _ in range(10_000):
        if clock.now >= 10.0:
            break
        wait = pacer.global_wait()
        if wait > 0:
            clock.now += wait
            continue
        pacer.take(f"chat{len(times)}", "private")
        times.append(clock.now)
    assert 299 <= len(times) <= 301
    # Never more than 30 in any rolling second.
    busiest = max(sum(1 for u in times if t <= u < t + 1 - 1e-9) for t in times)
    assert busiest == 30


def test_pacer_per_chat_intervals() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(rate=None, group_interval=3.0, private_interval=1.0, clock=clock)
    pacer.take("group", "channel")
    pacer.take("person", "private")
    assert pacer.chat_wait("group") == 3.0
    assert pacer.chat_wait("person") == 1.0
    assert pacer.chat_wait("other") == 0.0
    clock.now = 1.0
    assert pacer.chat_wait("person") == 0.0
    assert pacer.chat_wait("group") == 2.0


def test_pacer_burst_then_rate() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(rate=0.2, burst=10, clock=clock)
    for i in range(10):
        assert pacer.global_wait() == 0
        pacer.take(f"room{i}", "channel")
    assert pacer.global_wait() == pytest.approx(5.0)
    clock.now = 5.0
    assert pacer.global_wait() == 0


def test_pacer_pause_holds_everything() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(rate=None, clock=clock)
    pacer.pause(12.0)
    assert pacer.global_wait() == 12.0
    clock.now = 12.5
    assert pacer.global_wait() == 0


def test_pacer_counts_unanswered_sends_as_arriving_now() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(rate=5.0, burst=1, clock=clock)
    for n in range(5):  # the bucket spaces them; none is answered yet
        clock.now += pacer.global_wait()
        pacer.take(f"c{n}", "private", tracked=True)
    clock.now += 1.0
    # Five may still arrive at any moment: a sixth could make six in one second.
    assert pacer.global_wait() == 1.0
    for n in range(5):
        pacer.landed(f"c{n}", "private")
    # Answered now, so they count as arriving now: the next waits out their second.
    assert pacer.global_wait() == pytest.approx(1.0)
    clock.now += 1.0
    assert pacer.global_wait() == 0
