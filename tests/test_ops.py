"""Operating it: copy-db from SQLite to PostgreSQL, status, and /healthz."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.chat import Post
from bot.outbox import Item
from bot.storage import ledger as lq
from bot.storage import open_database
from bot.storage import outbox as q
from bot.storage.postgres import PostgresDatabase
from tests.fakes.recording import RecordingAdapter
from tests.helpers import make_config

CLI = [sys.executable, "-m", "bot.cli"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=60, check=False, env={**os.environ}
    )


async def _fill_sqlite(path: Path) -> None:
    async with open_database(path) as db:
        app = build_app(make_config(path.parent), db, adapters={"console": RecordingAdapter()})
        targets = [q.Target("console", f"p{i}", "private", "subscriber") for i in range(5)]
        await app.services.outbox.enqueue_alone(Item("article", Post.text("x")), targets)
        async with db.transaction() as tx:
            await lq.append_entries(
                tx,
                [lq.NewEntry("cs_1", "payment", 2_500, "USD", 1.0, campaign="c"),
                 lq.NewEntry("cs_2", "payment", 700, "EUR", 1.0, campaign="c")],
                2.0,
            )  # fmt: skip
        await app.close()


async def test_copy_db_copies_everything_and_refuses_a_filled_target(
    tmp_path: Path, pg_empty_url: str
) -> None:
    source = tmp_path / "old.sqlite3"
    await _fill_sqlite(source)
    config = tmp_path / "pg.toml"
    config.write_text(f'[console]\nenabled = true\n[storage]\nurl = "{pg_empty_url}"\n')
    first = _cli("copy-db", str(source), "-c", str(config))
    assert first.returncode == 0, first.stderr
    assert "postgres: campaign c USD: 2500 (1 donations)" in first.stdout
    assert "sqlite: campaign c EUR: 700 (1 donations)" in first.stdout
    assert "counts and campaign totals match" in first.stdout
    db = await PostgresDatabase.open(pg_empty_url)
    try:
        async with db.transaction() as tx:  # new rows continue after the copied ids
            item = await q.insert_item(tx, kind="x", ref=None, post_json="{}", targets=[])
        assert item == 2
    finally:
        await db.close()
    again = _cli("copy-db", str(source), "-c", str(config))
    assert again.returncode == 1
    assert "is not empty" in again.stderr


async def test_status_lists_instances_roles_and_backlog(tmp_path: Path, pg_url: str) -> None:
    config = tmp_path / "pg.toml"
    config.write_text(f'[console]\nenabled = true\n[storage]\nurl = "{pg_url}"\n')
    db = await PostgresDatabase.open(pg_url)
    try:
        async with db.transaction() as tx:
            await q.insert_item(
                tx, kind="x", ref=None, post_json="{}",
                targets=[q.Target("console", "a", "private", "subscriber")],
            )  # fmt: skip
        from bot.storage.roles import RoleLocks

        locks = RoleLocks(db, "bot-1")
        await locks.connect()
        assert await locks.try_take("console")
        result = _cli("status", "-c", str(config), "--json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["backlog"] == {"console": 1}
        assert [(i["name"], i["roles"]) for i in report["instances"]] == [("bot-1", ["console"])]
        text = _cli("status", "-c", str(config))
        assert "instance bot-1: console" in text.stdout
        assert "outbox backlog: console 1" in text.stdout
        await locks.close()
    finally:
        await db.close()


async def test_healthz_answers_200_with_roles_and_503_without_storage(
    tmp_path: Path, pg_url: str
) -> None:
    config = make_config(
        tmp_path, storage={"url": pg_url}, instance={"name": "web-1"},
        web={"enabled": True, "listen": "127.0.0.1:0"},
    )  # fmt: skip
    db = await PostgresDatabase.open(pg_url)
    app = build_app(config, db, adapters={"console": RecordingAdapter()})
    assert app.web is not None
    async with TestClient(TestServer(app.web.app())) as client:
        ok = await client.get("/healthz")
        assert ok.status == 200
        body = await ok.json()
        assert (body["instance"], body["roles"]) == ("web-1", [])  # a standby until it runs
        await db.close()
        down = await client.get("/healthz")
        assert down.status == 503
        assert (await down.json())["status"] == "storage unreachable"
    await app.close()


async def test_healthz_on_sqlite_names_every_role(tmp_path: Path) -> None:
    config = make_config(tmp_path, web={"enabled": True, "listen": "127.0.0.1:0"})
    async with open_database(config.database_path()) as db:
        app = build_app(config, db, adapters={"console": RecordingAdapter()})
        assert app.web is not None
        async with TestClient(TestServer(app.web.app())) as client:
            ok = await client.get("/healthz")
            assert ok.status == 200
            assert "console" in (await ok.json())["roles"]
        await app.close()
