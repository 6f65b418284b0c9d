"""Fixtures for the adapter tests: one real Synapse homeserver for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.synapse import Synapse, running_synapse


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """A running Synapse; if it cannot start, every test using it fails (never skips)."""
    with running_synapse(tmp_path_factory.mktemp("synapse")) as server:
        yield server
