"""What only the PostgreSQL backend does: placeholders, its version table, `migrate` on it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.storage import DatabaseTooNew, MigrationError
from bot.storage.db import bundled_migrations
from bot.storage.postgres import PostgresDatabase, open_postgres, translate
from tests.postgres import REQUIRE_ENV, skip_or_fail

CLI = [sys.executable, "-m", "bot.cli"]


def test_placeholders_become_numbered_outside_quotes_and_comments() -> None:
    assert translate("SELECT ? , '?', \"a?\", ? -- why?\n, ?") == (
        "SELECT $1 , '?', \"a?\", $2 -- why?\n, $3"
    )
    assert translate("SELECT 'it''s ?' || ?") == "SELECT 'it''s ?' || $1"


async def test_an_empty_database_migrates_to_the_latest_version(pg_empty_url: str) -> None:
    db = await PostgresDatabase.open(pg_empty_url)
    try:
        assert await db.version() == 0
        assert await db.migrate() == bundled_migrations()[-1][0]
        row = await db.fetch_one(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'ledger_entries' AND column_name = 'amount'"
        )
        assert row is not None
        assert row["data_type"] == "bigint"  # money: integer minor units, never floats
    finally:
        await db.close()


async def test_instances_starting_together_migrate_once(pg_empty_url: str) -> None:
    dbs = [await PostgresDatabase.open(pg_empty_url) for _ in range(3)]
    try:
        versions = await asyncio.gather(*(db.migrate() for db in dbs))
        assert set(versions) == {bundled_migrations()[-1][0]}
        row = await dbs[0].fetch_one("SELECT COUNT(*) AS n FROM schema_version")
        assert row is not None
        assert row["n"] == 1
    finally:
        for db in dbs:
            await db.close()


async def test_a_failing_migration_leaves_the_last_good_version(pg_empty_url: str) -> None:
    good = (1, "0001_a.sql", "CREATE TABLE a (x INTEGER);")
    bad = (2, "0002_b.sql", "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);")
    db = await PostgresDatabase.open(pg_empty_url)
    try:
        with pytest.raises(MigrationError, match=r"0002_b\.sql"):
            await db.migrate([good, bad])
        assert await db.version() == 1
        row = await db.fetch_one("SELECT to_regclass('b')::text AS t")
        assert row is not None
        assert row["t"] is None
    finally:
        await db.close()


async def test_a_newer_database_is_refused_when_opened(pg_url: str) -> None:
    async with open_postgres(pg_url) as db:
        await db.execute("UPDATE schema_version SET version = 999")
    with pytest.raises(DatabaseTooNew, match="999 is newer than this outreach-bot supports"):
        async with open_postgres(pg_url):
            pass


def _migrate(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "migrate", "-c", str(config)],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip


def test_the_migrate_command_works_on_postgres(tmp_path: Path, pg_empty_url: str) -> None:
    secret_url = pg_empty_url.replace("postgres@", "postgres:hunter2@")
    config = tmp_path / "c.toml"
    config.write_text(
        f'[console]\nenabled = true\n[storage]\nurl = "{secret_url}"\npassword_env = "PGPW"\n'
    )
    env = {**os.environ, "PGPW": "unused-with-trust"}
    first = _migrate(config, env)
    assert first.returncode == 0, first.stderr
    assert f"schema version 0 -> {bundled_migrations()[-1][0]}" in first.stdout
    assert "hunter2" not in first.stdout + first.stderr
    again = _migrate(config, env)
    assert again.returncode == 0, again.stderr
    assert "schema version 7 -> 7" in again.stdout.replace(str(bundled_migrations()[-1][0]), "7")
    assert not (tmp_path / "outreach.sqlite3").exists()  # no SQLite file on the side


def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[console]\nenabled = true\n[storage]\nurl = "postgresql://x@127.0.0.1:1/x"\n'
    )
    result = _migrate(config, {**os.environ})
    assert result.returncode == 1
    assert "cannot reach the database postgresql://x@127.0.0.1:1/x" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_server_binaries_tests_skip_unless_ci_requires_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL server binaries"):
        skip_or_fail("no PostgreSQL server binaries")
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="makes PostgreSQL tests mandatory"):
        skip_or_fail("no PostgreSQL server binaries")
