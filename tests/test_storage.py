from __future__ import annotations

from pathlib import Path

import pytest

from bot.storage import Database, DatabaseTooNew, MigrationError, open_database
from bot.storage import thanks as tq
from bot.storage.db import bundled_migrations
from bot.storage.sqlite import SqliteDatabase
from bot.storage.state import get_state, set_state


async def test_migrates_an_empty_database_to_the_latest_version(tmp_path: Path) -> None:
    latest = bundled_migrations()[-1][0]
    db = await SqliteDatabase.open(tmp_path / "x.sqlite3")
    try:
        assert await db.version() == 0
        assert await db.migrate() == latest
        tables = {r["name"] for r in await db.fetch_all("SELECT name FROM sqlite_master")}
        assert "bot_state" in tables
        mode = await db.fetch_one("PRAGMA journal_mode")
        assert mode is not None
        assert mode[0] == "wal"
    finally:
        await db.close()


async def test_rerunning_migrations_is_a_no_op(tmp_path: Path) -> None:
    async with open_database(tmp_path / "x.sqlite3") as db:
        await set_state(db, "k", "v")
        version = await db.version()
    async with open_database(tmp_path / "x.sqlite3") as db:
        assert await db.version() == version
        assert await get_state(db, "k") == "v"


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    async with open_database(path) as db:
        await db.execute("PRAGMA user_version = 999")
    with pytest.raises(DatabaseTooNew, match="newer than this outreach-bot supports"):
        async with open_database(path):
            pass


async def test_a_failing_migration_leaves_the_last_good_version(tmp_path: Path) -> None:
    db = await SqliteDatabase.open(tmp_path / "x.sqlite3")
    try:
        good = (1, "0001_a.sql", "CREATE TABLE a (x INTEGER);")
        bad = (2, "0002_b.sql", "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);")
        with pytest.raises(MigrationError, match=r"0002_b\.sql"):
            await db.migrate([good, bad])
        assert await db.version() == 1
        tables = {r["name"] for r in await db.fetch_all("SELECT name FROM sqlite_master")}
        assert "a" in tables
        assert "b" not in tables
    finally:
        await db.close()


async def test_transaction_rolls_back_on_error(db: Database) -> None:
    async def insert_then_fail() -> None:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO bot_state (key, value) VALUES ('a', 'b')")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await insert_then_fail()
    assert await get_state(db, "a") is None


async def test_a_forgotten_thank_you_link_is_gone_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    chat = "donor-chat-5e1d0b77"
    async with open_database(path) as db:
        link = tq.ThankLink("telegram", chat, "private", "ru")
        token = await tq.thank_token(
            db, request_key="k", new_token="t0k3n", link=link, now=7200.0, expire_before=0.0
        )
        async with db.transaction() as tx:
            assert await tq.take_thank_link(tx, token) == link
    # Closing checkpoints the write-ahead log into the file and removes the log.
    assert not (tmp_path / "x.sqlite3-wal").exists()
    assert chat.encode() not in path.read_bytes()
