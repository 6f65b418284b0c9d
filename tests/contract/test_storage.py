"""The storage contract: every query function behaves the same on SQLite and PostgreSQL.

One fixture, `store`, runs each test once per backend. PostgreSQL is a real server the
session starts (tests/postgres.py); without its binaries these skip with the reason,
and OUTREACH_REQUIRE_POSTGRES=1 (CI) makes that a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage import (
    Database,
    DatabaseTooNew,
    StorageTarget,
    open_storage,
    people,
    privacy,
    search,
)
from bot.storage import announcements as aq
from bot.storage import feeds as fq
from bot.storage import ledger as lq
from bot.storage import outbox as q
from bot.storage import thanks as tq
from bot.storage.db import bundled_migrations
from bot.storage.state import get_state, set_state
from tests.postgres import PostgresServer

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh, migrated database on the backend named by the parameter."""
    if request.param == "sqlite":
        target = StorageTarget(tmp_path / "contract.sqlite3")
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        target = StorageTarget(tmp_path / "unused", url=await server.fresh_database())
    async with open_storage(target) as db:
        yield db


def _targets(n: int, platform: str = "telegram") -> list[q.Target]:
    return [q.Target(platform, str(1000 + i), "private", "subscriber") for i in range(n)]


async def _enqueue(db: Database, n: int, platform: str = "telegram") -> int:
    async with db.transaction() as tx:
        return await q.insert_item(
            tx, kind="announcement", ref="7", post_json='{"t": 1}', targets=_targets(n, platform),
            now=100.0,
        )  # fmt: skip


# --- migrations and the seam -----------------------------------------------------------


def test_both_backends_ship_the_same_migration_numbers() -> None:
    lite = [(v, name) for v, name, _ in bundled_migrations()]
    pg = [(v, name) for v, name, _ in bundled_migrations("migrations/postgres")]
    assert lite == pg


async def test_the_database_is_at_the_latest_version(store: Database) -> None:
    assert await store.version() == bundled_migrations()[-1][0]
    assert await store.migrate() == bundled_migrations()[-1][0]  # again: nothing to do


async def test_a_transaction_commits_together_or_not_at_all(store: Database) -> None:
    async def fail() -> None:
        async with store.transaction() as tx:
            await set_state(tx, "a", "1")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail()
    assert await get_state(store, "a") is None
    ran: list[str] = []
    async with store.transaction() as tx:
        await set_state(tx, "a", "2")
        tx.after_commit(lambda: ran.append("after"))
        assert ran == []
    assert ran == ["after"]
    assert await get_state(store, "a") == "2"


async def test_concurrent_transactions_each_see_the_last_commit(store: Database) -> None:
    await set_state(store, "n", "0")

    async def bump() -> None:
        async with store.transaction() as tx:
            value = int(await get_state(tx, "n") or 0)
            await asyncio.sleep(0)
            await set_state(tx, "n", str(value + 1))

    await asyncio.gather(*(bump() for _ in range(20)))
    assert await get_state(store, "n") == "20"


# --- outbox ---------------------------------------------------------------------------


async def test_outbox_rows_are_due_claimed_once_and_finished(store: Database) -> None:
    item = await _enqueue(store, 3)
    rows = await q.due_rows(store, "telegram", 200.0, 10)
    assert [r.chat_id for r in rows] == ["1000", "1001", "1002"]
    assert rows[0].key.startswith("outbox-")
    assert rows[0].key.endswith(f"-{rows[0].id}")
    assert await q.next_due_at(store, "telegram") == 100.0
    assert await q.claim(store, rows[0].id, 200.0)
    assert not await q.claim(store, rows[0].id, 200.0)
    await q.finish(store, rows[0].id, q.SENT, now=201.0, message_id="m1")
    await q.retry_later(store, rows[1].id, 500.0, now=201.0, error="transient")
    assert await q.item_counts(store, item) == {"sent": 1, "pending": 2}
    due = await q.due_rows(store, "telegram", 300.0, 10)
    assert [r.chat_id for r in due] == ["1002"]


async def test_claims_race_and_exactly_one_wins(store: Database) -> None:
    await _enqueue(store, 1)
    (row,) = await q.due_rows(store, "telegram", 200.0, 10)
    wins = await asyncio.gather(*(q.claim(store, row.id, 200.0) for _ in range(10)))
    assert wins.count(True) == 1


async def test_rows_left_sending_are_resent_or_marked_unknown(store: Database) -> None:
    await _enqueue(store, 2, "telegram")
    await _enqueue(store, 2, "matrix")
    for platform in ("telegram", "matrix"):
        for row in await q.due_rows(store, platform, 200.0, 10):
            assert await q.claim(store, row.id, 200.0)
    counts = await q.recover_sending(store, ["matrix"], 300.0)
    assert counts == {"resend": 2, "unknown": 2}
    assert len(await q.due_rows(store, "matrix", 300.0, 10)) == 2
    assert await q.due_rows(store, "telegram", 300.0, 10) == []


async def test_edits_follow_sent_messages_and_chats_move_or_end(store: Database) -> None:
    item = await _enqueue(store, 2)
    rows = await q.due_rows(store, "telegram", 200.0, 10)
    await q.claim(store, rows[0].id, 200.0)
    await q.finish(store, rows[0].id, q.SENT, now=200.0, message_id="42")
    async with store.transaction() as tx:
        assert await q.insert_edits(tx, item, '{"t": 2}', 300.0) == ["telegram"]
    assert await q.move_chat(store, "telegram", "1001", "-1001") == 1
    edits = [r for r in await q.due_rows(store, "telegram", 400.0, 10) if r.action == "edit"]
    assert [(e.chat_id, e.message_id, e.post_json) for e in edits] == [("1000", "42", '{"t": 2}')]
    assert await q.end_chat(store, "telegram", "-1001", 400.0) == 1
    assert await aq.cancel_pending(store, item, 400.0) == 1  # the edit


async def test_sent_forms_moves_pauses_and_channel_activity(store: Database) -> None:
    # Issue 14: what was sent is kept for edits, a moved chat takes its sent rows along,
    # a paused chat's rows wait, and /channels reads each channel's last post.
    async with store.transaction() as tx:
        item = await q.insert_item(
            tx, kind="article", ref=None, post_json="{}", now=100.0,
            targets=[q.Target("telegram", "-5", "channel", "channel:news"),
                     q.Target("telegram", "-7", "channel", "channel:talk")],
        )  # fmt: skip
    first, second = await q.due_rows(store, "telegram", 200.0, 10)
    assert first.created_at == 100.0
    await q.claim(store, first.id, 200.0)
    await q.finish(store, first.id, q.SENT, now=210.0, message_id="9", form="photo https://i")
    assert await q.move_chat(store, "telegram", "-5", "-1005") == 1  # the sent row too
    async with store.transaction() as tx:
        await q.insert_edits(tx, item, '{"t": 2}', 300.0)
    [edit] = [r for r in await q.due_rows(store, "telegram", 400.0, 10) if r.action == "edit"]
    assert (edit.chat_id, edit.message_id, edit.form) == ("-1005", "9", "photo https://i")
    await q.record_form(store, edit, "photo https://j")
    async with store.transaction() as tx:
        await q.insert_edits(tx, item, '{"t": 3}', 500.0)
    forms = [r.form for r in await q.due_rows(store, "telegram", 600.0, 10) if r.action == "edit"]
    assert forms == ["photo https://i", "photo https://j"]

    assert await q.delay_chat(store, "telegram", "-7", 9_000.0, 400.0) == 1
    assert second.id not in [r.id for r in await q.due_rows(store, "telegram", 8_000.0, 10)]
    activity = await q.channel_activity(store)
    assert activity["channel:news"].last_sent_at == 210.0
    assert activity["channel:talk"] == q.ChannelActivity(None, 1)

    assert await fq.mark_channel_paused(store, "talk", "no rights", 400.0)
    assert not await fq.mark_channel_paused(store, "talk", "no rights", 401.0)
    assert await fq.gone_channels(store) == set()  # paused channels still collect posts
    assert await fq.mark_channel_gone(store, "talk", "kicked", 402.0)  # paused -> gone
    states = await fq.channel_states(store)
    assert (states["talk"].state, states["talk"].reason) == (fq.GONE, "kicked")
    assert await fq.clear_channel_gone(store, "talk")
    assert not await fq.clear_channel_gone(store, "talk")


# --- ledger ---------------------------------------------------------------------------


def _payment(obj: str, amount: int, campaign: str | None = "c", pi: str = "pi") -> lq.NewEntry:
    return lq.NewEntry(obj, "payment", amount, "EUR", 1.0, campaign=campaign, payment_intent=pi)


async def test_ledger_entries_are_appended_once_and_summed_exactly(store: Database) -> None:
    big = 9_007_199_254_740_993  # above 2**53: a float would lose the last unit
    async with store.transaction() as tx:
        ids = await lq.append_entries(tx, [_payment("cs_1", 1500, pi="pi_1"),
                                           _payment("cs_2", big, pi="pi_2")], 10.0)  # fmt: skip
        again = await lq.append_entries(tx, [_payment("cs_1", 1500, pi="pi_1")], 11.0)
    assert all(isinstance(i, int) for i in ids)
    assert again == [None]
    refund = lq.NewEntry("ch_1", "refund", 500, "EUR", 2.0, variant="500", payment_intent="pi_1")
    async with store.transaction() as tx:
        await lq.append_entries(tx, [refund], 12.0)
    assert await lq.campaign_net(store, "c", "EUR") == 1500 + big - 500
    (total,) = await lq.totals(store)
    assert (total.campaign, total.currency, total.net, total.donations) == (
        "c", "EUR", 1500 + big - 500, 2,
    )  # fmt: skip
    entries = await lq.all_entries(store)
    assert [e.campaign for e in entries] == ["c", "c", "c"]  # the refund resolved to it
    assert await lq.get_entry(store, entries[2].id) == entries[2]
    assert not await lq.awaiting_payment(store, ["pi_9"])
    assert await lq.awaiting_payment(store, ["pi_1"])


async def test_ledger_entries_cannot_be_changed(store: Database) -> None:
    async with store.transaction() as tx:
        await lq.append_entries(tx, [_payment("cs_1", 100)], 1.0)
    with pytest.raises(Exception, match="append-only"):
        await store.execute("UPDATE ledger_entries SET amount = 1")
    with pytest.raises(Exception, match="append-only"):
        await store.execute("DELETE FROM ledger_entries")


async def test_milestones_thank_links_and_stripe_objects(store: Database) -> None:
    async with store.transaction() as tx:
        await lq.record_milestones(tx, "c", [25, 50], 5.0, None)
    assert await lq.passed_milestones(store, "c") == {25, 50}
    assert await lq.milestones(store, "c") == [25, 50]
    link = tq.ThankLink("telegram", "5", "private")
    first = await tq.thank_token(
        store, request_key="r1", new_token="t1", link=link, now=10.0, expire_before=0.0
    )
    second = await tq.thank_token(
        store, request_key="r1", new_token="t2", link=link, now=11.0, expire_before=0.0
    )
    assert first == second == "t1"
    assert await tq.thank_link_count(store) == 1
    assert await tq.thank_links_of(store, "telegram", ["5"]) == 1
    async with store.transaction() as tx:
        assert await tq.take_thank_link(tx, "t1") == link
        assert await tq.take_thank_link(tx, "t1") is None
    assert await lq.put_stripe_object(store, "price:c", "price_1", 1.0) == "price_1"
    assert await lq.put_stripe_object(store, "price:c", "price_2", 2.0) == "price_1"
    assert await lq.get_stripe_object(store, "price:c") == "price_1"


# --- feeds, subscribers, channels -------------------------------------------------------


def _record(
    key: str, title: str, summary: str = "", categories: tuple[str, ...] = ()
) -> fq.ArticleRecord:
    return fq.ArticleRecord(
        feed="news", key=key, canonical_url=f"https://example.org/{key}",
        url=f"https://example.org/{key}", title=title, author="A", summary=summary,
        image_url=None, categories=categories, published_at=None, content_hash=f"h{key}",
    )  # fmt: skip


async def test_feeds_articles_and_their_state(store: Database) -> None:
    feed = await fq.sync_feed(store, "news", "https://example.org/feed", 1.0)
    assert (feed.failures, feed.failure_notified) == (0, False)
    await fq.record_failure(store, "news", now=2.0, next_poll_at=3.0, error="503", notified=True)
    failed = await fq.get_feed(store, "news")
    assert failed is not None
    assert (failed.failures, failed.failure_notified, failed.last_error) == (1, True, "503")
    await fq.record_success(
        store, "news", now=4.0, next_poll_at=5.0, url="https://e.org/f", etag='"x"',
        last_modified=None,
    )  # fmt: skip
    ok = await fq.get_feed(store, "news")
    assert ok is not None
    assert (ok.failures, ok.etag, ok.first_polled_at) == (0, '"x"', 4.0)
    async with store.transaction() as tx:
        article_id = await fq.insert_article(tx, _record("a1", "One"), posted=True, now=5.0)
        ids = await fq.insert_articles(
            tx, [_record("a2", "Two"), _record("a3", "Three")], {"a3"}, 5.0
        )
        await fq.update_article_content(tx, article_id, _record("a1", "One, updated"))
    assert sorted(ids) == ["a2", "a3"]
    assert len(set(ids.values()) | {article_id}) == 3
    seen = await fq.seen_articles(store, "news")
    assert {k: v.posted for k, v in seen.items()} == {"a1": True, "a2": False, "a3": True}
    assert {k: v.id for k, v in seen.items() if k != "a1"} == ids
    urls = [f"https://example.org/{k}" for k in ("a1", "a2", "a3", "a4")]
    assert await fq.canonicals_posted(store, [*urls, ""]) == {urls[0], urls[2]}
    assert await fq.canonicals_posted(store, []) == set()
    assert await fq.posted_counts(store) == {"news": 2}
    assert await fq.article_items(store, article_id) == []
    await fq.sync_feed(store, "news", "https://example.org/other", 6.0)  # a new URL: afresh
    fresh = await fq.get_feed(store, "news")
    assert fresh is not None
    assert fresh.failures == 0
    assert fresh.etag is None


async def test_subscribers_and_channels(store: Database) -> None:
    await fq.save_subscriber(store, "telegram", "5", ["b", "a", "a"], 1.0)
    await fq.save_subscriber(store, "matrix", "!r", [], 2.0)
    sub = await fq.get_subscriber(store, "telegram", "5")
    assert sub is not None
    assert sub.topics == ("a", "b")
    assert [s.chat_id for s in await fq.active_subscribers(store, ["telegram", "matrix"])] == [
        "5", "!r",
    ]  # fmt: skip
    await fq.deactivate_subscriber(store, "telegram", "5")
    assert await fq.get_subscriber(store, "telegram", "5") is None
    assert await fq.active_subscribers(store, []) == []
    assert await fq.remove_subscriber(store, "matrix", "!r")
    assert not await fq.remove_subscriber(store, "matrix", "!r")
    assert await fq.mark_channel_gone(store, "news", "kicked", 1.0)
    assert not await fq.mark_channel_gone(store, "news", "kicked", 2.0)
    assert await fq.gone_channels(store) == {"news"}
    await fq.clear_channel_gone(store, "news")
    assert await fq.gone_channels(store) == set()
    await fq.move_channel(store, "telegram", "-5", "-1005")
    await fq.move_channel(store, "telegram", "-1005", "-2005")
    assert await fq.current_chat_id(store, "telegram", "-5") == "-2005"


# --- announcements and audit ------------------------------------------------------------


async def test_announcements_move_through_their_states(store: Database) -> None:
    aid = await aq.create(
        store, author="console:admin", source="Hi", post_json="{}", selectors=["all"],
        send_at=50.0, now=1.0,
    )  # fmt: skip
    assert await aq.set_state(store, aid, aq.SCHEDULED, 2.0, expect=aq.DRAFT)
    assert not await aq.set_state(store, aid, aq.SCHEDULED, 2.0, expect=aq.DRAFT)
    assert [a.id for a in await aq.with_state(store, aq.SCHEDULED)] == [aid]
    item = await _enqueue(store, 1)
    async with store.transaction() as tx:
        await aq.started(tx, aid, item, 3.0)
    await aq.set_report(store, aid, platform="console", chat="a", kind="private", message_id="9")
    await aq.reported(store, aid, 4.0)
    row = await aq.get(store, aid)
    assert row is not None
    assert (row.state, row.item_id, row.selectors, row.report_message, row.last_report_at) == (
        "sending", item, ("all",), "9", 4.0,
    )  # fmt: skip
    for at, action in ((1.0, "announce"), (2.0, "cancel")):
        await aq.audit(store, at=at, actor="console:admin", action=action, detail="#1", result="ok")
    assert [e.action for e in await aq.audit_entries(store, 10)] == ["cancel", "announce"]


# --- people, privacy, state -------------------------------------------------------------


async def test_people_choose_a_language_and_are_forgotten(store: Database) -> None:
    await people.set_language(store, "telegram", "5", "ru")
    await people.set_language(store, "telegram", "5", "uk")
    assert await people.get_language(store, "telegram", "5") == "uk"
    await fq.save_subscriber(store, "telegram", "5", ["a"], 1.0)
    await aq.audit(store, at=1.0, actor="telegram:5", action="x", detail="", result="ok")
    records = await privacy.records_of(store, "telegram", ["5"], "telegram:5")
    assert records.language == "uk"
    assert records.subscriptions == [("5", ("a",), True)]
    assert records.audit_entries == 1
    await privacy.erase(store, "telegram", ["5"], "telegram:5")
    after = await privacy.records_of(store, "telegram", ["5"], "telegram:5")
    assert (after.language, after.subscriptions, after.audit_entries) == (None, [], 0)
    await people.set_language(store, "telegram", "6", "es")
    await people.set_language(store, "telegram", "6", None)
    assert await people.get_language(store, "telegram", "6") is None


async def test_state_keys_are_set_and_replaced(store: Database) -> None:
    assert await get_state(store, "instance")  # a random id per database (migration 0006)
    await set_state(store, "matrix.token", "a")
    await set_state(store, "matrix.token", "b")
    assert await get_state(store, "matrix.token") == "b"


# --- search ---------------------------------------------------------------------------


async def _archive(store: Database) -> dict[str, int]:
    ids: dict[str, int] = {}
    async with store.transaction() as tx:
        for key, title, summary, cats in [
            ("1", "Protesters detained in Moscow", "Police detained dozens at the rally.", ()),
            ("2", "Budget report", "The protest movement raised funds.", ("money",)),
            ("3", "Weather", "Sunny all week.", ("protest",)),
            ("4", "Митинг в Москве", "Задержаны десятки протестующих.", ()),
        ]:
            ids[key] = await fq.insert_article(
                tx, _record(key, title, summary, cats), posted=True, now=float(key)
            )
    return ids


async def test_search_finds_words_by_prefix_and_stem_best_first(store: Database) -> None:
    ids = await _archive(store)
    found = await search.search(store, "protest")
    assert found[0].id == ids["1"]  # in the title: weighs most
    assert {a.id for a in found} == {ids["1"], ids["2"], ids["3"]}
    assert (await search.search(store, "protesters"))[0].id == ids["1"]
    both = await search.search(store, "detained police")
    assert [a.id for a in both] == [ids["1"]]
    assert "«" in both[0].snippet
    assert [a.id for a in await search.search(store, "москв")] == [ids["4"]]
    assert await search.search(store, "nothing-like-this") == []
    assert await search.search(store, "  ") == []
    assert await search.search(store, 'a OR b* NEAR("c")') == []  # operators are words


async def test_related_articles_share_title_words(store: Database) -> None:
    ids = await _archive(store)
    first = await search.get_article(store, ids["1"])
    assert first is not None
    assert first.categories == ()
    related = await search.similar_by_text(store, first, 5)
    assert ids["1"] not in related
    assert related  # "protest…" and "detained" are elsewhere
    assert [a.id for a in await search.with_ids(store, [ids["2"]])] == [ids["2"]]
    assert [a.id for a in await search.latest(store, 2, scan=2)] == [ids["4"], ids["3"]]


# --- refusing the future ------------------------------------------------------------------


async def test_a_database_newer_than_the_code_is_refused(store: Database) -> None:
    latest = bundled_migrations()[-1][0]
    if store.dialect == "postgres":
        await store.execute("UPDATE schema_version SET version = ?", (latest + 1,))
    else:
        await store.execute(f"PRAGMA user_version = {latest + 1}")
    with pytest.raises(DatabaseTooNew, match="newer than this outreach-bot supports"):
        await store.migrate()
