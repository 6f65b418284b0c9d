"""The storage seam and the outbox's one entry point: transactions, after-commit wake-ups,
rows by column name, and which modules may touch the database driver or outbox rows."""

from __future__ import annotations

import ast
import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.chat import ChatRef, Post, SentRef
from bot.outbox import Item, Outbox, WakeSignals
from bot.outbox.delivery import DeliveryPolicy, DeliveryWorker
from bot.storage import Database
from bot.storage import feeds as fq
from bot.storage import outbox as q
from tests.fakes.recording import RecordingAdapter
from tests.helpers import PROJECT_ROOT

TARGETS = [
    q.Target("console", "news", "channel", "channel:news"),
    q.Target("matrix", "!room:x", "channel", "channel:mx"),
]


class RecordingWake:
    def __init__(self) -> None:
        self.platforms: list[str] = []

    def __call__(self, platform: str) -> None:
        self.platforms.append(platform)


async def test_after_commit_callbacks_run_once_the_transaction_has_committed(
    db: Database,
) -> None:
    ran: list[str] = []
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO bot_state (key, value) VALUES ('k', 'v')")
        tx.after_commit(lambda: ran.append("committed"))
        assert ran == []
    assert ran == ["committed"]


async def test_a_rolled_back_transaction_runs_no_after_commit_callback(db: Database) -> None:
    ran: list[str] = []

    async def fail_after_registering() -> None:
        async with db.transaction() as tx:
            tx.after_commit(lambda: ran.append("committed"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail_after_registering()
    assert ran == []


async def test_a_failing_after_commit_callback_does_not_undo_the_commit(db: Database) -> None:
    def fail() -> None:
        raise ValueError("callback broke")

    async with db.transaction() as tx:
        await tx.execute("INSERT INTO bot_state (key, value) VALUES ('k', 'v')")
        tx.after_commit(fail)
    row = await db.fetch_one("SELECT value FROM bot_state WHERE key = 'k'")
    assert row is not None
    assert row["value"] == "v"


async def test_enqueue_wakes_each_platform_once_after_commit(db: Database) -> None:
    wake = RecordingWake()
    outbox = Outbox(db, wake)
    async with db.transaction() as tx:
        first = await outbox.enqueue(tx, Item("article", Post.text("one")), TARGETS)
        second = await outbox.enqueue(tx, Item("article", Post.text("two")), TARGETS[:1])
        assert wake.platforms == []  # nothing is visible to a worker before the commit
    assert sorted(wake.platforms) == ["console", "console", "matrix"]
    assert first is not None
    assert second is not None
    assert await q.item_counts(db, first) == {"pending": 2}
    assert await q.item_counts(db, second) == {"pending": 1}


async def test_an_enqueue_rolled_back_with_its_transaction_leaves_no_row_and_wakes_nobody(
    db: Database,
) -> None:
    wake = RecordingWake()
    outbox = Outbox(db, wake)

    async def enqueue_then_fail() -> None:
        async with db.transaction() as tx:
            await outbox.enqueue(tx, Item("article", Post.text("one")), TARGETS)
            raise RuntimeError("the caller's own write failed")

    with pytest.raises(RuntimeError):
        await enqueue_then_fail()
    assert wake.platforms == []
    assert await db.fetch_all("SELECT id FROM deliveries") == []
    assert await db.fetch_all("SELECT id FROM outbox_items") == []


async def test_no_targets_means_no_item(db: Database) -> None:
    wake = RecordingWake()
    assert await Outbox(db, wake).enqueue_alone(Item("notice", Post.text("x")), []) is None
    assert await db.fetch_all("SELECT id FROM outbox_items") == []
    assert wake.platforms == []


async def test_an_edit_wakes_only_the_platforms_it_was_sent_on(db: Database) -> None:
    wake = RecordingWake()
    outbox = Outbox(db, wake)
    item_id = await outbox.enqueue_alone(Item("article", Post.text("v1")), TARGETS)
    assert item_id is not None
    rows = await q.due_rows(db, "console", now=2e9, limit=10)
    await q.finish(db, rows[0].id, q.SENT, now=0, message_id="7")
    wake.platforms.clear()
    async with db.transaction() as tx:
        assert await outbox.enqueue_edit(tx, item_id, Post.text("v2")) == 1
    assert wake.platforms == ["console"]
    (edit,) = [r for r in await q.due_rows(db, "console", now=2e9, limit=10) if r.action == "edit"]
    assert (edit.message_id, edit.chat_id) == ("7", "news")


@dataclass
class SignallingAdapter(RecordingAdapter):
    has_sent: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(
        self, chat: ChatRef, post: Post, *, key: str, reply_to: str | None = None
    ) -> SentRef:
        sent = await super().send(chat, post, key=key, reply_to=reply_to)
        self.has_sent.set()
        return sent


async def test_a_sleeping_worker_sends_as_soon_as_an_enqueue_commits(db: Database) -> None:
    wake = WakeSignals()
    adapter = SignallingAdapter()
    worker = DeliveryWorker(
        db, adapter, DeliveryPolicy(resend_uncertain=True),
        wake=wake.signal("console"),
    )  # fmt: skip
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(worker.run(stop))
        await asyncio.sleep(0.2)  # nothing due: the worker sleeps (for up to a minute)
        await Outbox(db, wake).enqueue_alone(Item("article", Post.text("hello")), TARGETS[:1])
        async with asyncio.timeout(5):
            await adapter.has_sent.wait()
        stop.set()
    assert adapter.texts("news") == ["hello"]


async def test_a_moved_chat_keeps_one_subscription_under_its_new_id(db: Database) -> None:
    await fq.save_subscriber(db, "telegram", "-5", ["russia"], 0)
    await fq.save_subscriber(db, "telegram", "-1005", [], 0)
    await fq.move_subscriber(db, "telegram", "-5", "-1005")
    assert await fq.get_subscriber(db, "telegram", "-5") is None
    moved = await fq.get_subscriber(db, "telegram", "-1005")
    assert moved is not None
    assert moved.topics == ("russia",)
    await fq.move_subscriber(db, "telegram", "-404", "-1005")  # nothing to move: nothing lost
    assert await fq.get_subscriber(db, "telegram", "-1005") == moved


def _python_files(*folders: str) -> list[Path]:
    return [p for folder in folders for p in sorted((PROJECT_ROOT / folder).rglob("*.py"))]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_only_storage_imports_the_database_driver() -> None:
    storage = PROJECT_ROOT / "bot" / "storage"
    offenders = [
        str(p.relative_to(PROJECT_ROOT))
        for p in _python_files("bot", "handlers")
        if storage not in p.parents and {"aiosqlite", "sqlite3", "asyncpg"} & _imports(p)
    ]
    assert offenders == []


def test_only_the_outbox_service_writes_outbox_rows() -> None:
    allowed = {Path("bot/outbox/service.py"), Path("bot/storage/outbox.py")}
    offenders = [
        str(path)
        for path in (p.relative_to(PROJECT_ROOT) for p in _python_files("bot", "handlers"))
        if path not in allowed
        and any(
            name in (PROJECT_ROOT / path).read_text(encoding="utf-8")
            for name in ("insert_item", "insert_edits", "INSERT INTO deliveries")
        )
    ]
    assert offenders == []
