"""Shared fixtures: a real SQLite database per test, config builders, one Synapse per session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Config
from bot.storage import Database, open_database
from tests.helpers import make_config
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
