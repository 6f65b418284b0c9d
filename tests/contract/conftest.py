"""One fixture, `rig`, runs every contract test once per adapter: console, Telegram, Matrix
(in a plain and in an encrypted room)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.contract.capabilities import CAPABILITIES, KNOWN_BUGS
from tests.contract.console_rig import ConsoleRig
from tests.contract.matrix_e2e_rig import MatrixE2ERig
from tests.contract.matrix_rig import MatrixRig
from tests.contract.rig import Rig
from tests.contract.telegram_rig import TelegramRig
from tests.synapse import MatrixUser, Synapse

ADAPTERS = ("console", "telegram", "matrix", "matrix-e2e")
assert set(ADAPTERS) == set(CAPABILITIES), "every adapter needs a row in CAPABILITIES"


@pytest.fixture(scope="session")
def matrix_accounts(synapse: Synapse) -> tuple[MatrixUser, MatrixUser]:
    """The bot's account and a person's, registered once for the whole suite."""
    return synapse.new_user("contractbot"), synapse.new_user("person")


@pytest.fixture(scope="session")
def matrix_e2e_accounts(
    synapse: Synapse, tmp_path_factory: pytest.TempPathFactory
) -> tuple[MatrixUser, MatrixUser, Path]:
    """The encrypted rig's accounts, and the folder of their crypto stores (one per device)."""
    stores = tmp_path_factory.mktemp("matrix-stores")
    return synapse.new_user("e2ebot"), synapse.new_user("e2eperson"), stores


@pytest.fixture(params=ADAPTERS)
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    """The adapter named by the parameter, started, with a chat and its observer."""
    if request.param == "console":
        async with ConsoleRig().running() as console:
            yield console
    elif request.param == "telegram":
        async with TelegramRig.running() as telegram:
            yield telegram
    elif request.param == "matrix-e2e":
        synapse = request.getfixturevalue("synapse")
        bot, person, stores = request.getfixturevalue("matrix_e2e_accounts")
        async with MatrixE2ERig.running_encrypted(synapse, bot, person, stores) as encrypted:
            yield encrypted
    else:
        synapse: Synapse = request.getfixturevalue("synapse")
        bot, person = request.getfixturevalue("matrix_accounts")
        async with MatrixRig.running(synapse, bot, person) as matrix:
            yield matrix


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the (test, adapter) pairs of `KNOWN_BUGS` as strict expected failures."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "rig" not in callspec.params:
            continue
        name = getattr(item, "originalname", item.name)
        reason = KNOWN_BUGS.get((name, callspec.params["rig"]))
        if reason is not None:
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
