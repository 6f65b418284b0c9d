"""Shared fixtures: a real SQLite database per test, config builders, one Synapse per session,
one PostgreSQL server per session with a fresh database per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.config import Config
from bot.storage import Database, open_database
from tests.helpers import make_config
from tests.postgres import PostgresServer, running_postgres
from tests.synapse import Synapse, running_synapse


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with open_database(tmp_path / "test.sqlite3") as database:
        yield database


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """A running Synapse for every test that asks (the adapter tests and the contract suite).

    Started on first use; if it cannot start, every test using it fails (never skips).
    """
    with running_synapse(tmp_path_factory.mktemp("synapse")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A running PostgreSQL server with a migrated template database, for the session.

    Skips every test using it when there are no server binaries, unless
    OUTREACH_REQUIRE_POSTGRES=1 (CI), which makes that a failure.
    """
    with running_postgres() as server:
        # On a thread of its own: the first test to ask may already run an event loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, server.make_template()).result(timeout=60)
        yield server


@pytest.fixture
async def pg_url(postgres: PostgresServer) -> str:
    """The URL of a fresh, migrated database of its own for this test."""
    return await postgres.fresh_database()


@pytest.fixture
async def pg_empty_url(postgres: PostgresServer) -> str:
    """The URL of an empty database (no migration applied) for this test."""
    return await postgres.fresh_database(migrated=False)
