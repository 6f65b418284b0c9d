"""One fixture, `rig`, runs every contract test once per adapter: console, Telegram, Matrix."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.contract.capabilities import CAPABILITIES, KNOWN_BUGS
from tests.contract.console_rig import ConsoleRig
from tests.contract.matrix_rig import MatrixRig
from tests.contract.rig import Rig
from tests.contract.telegram_rig import TelegramRig
from tests.synapse import MatrixUser, Synapse

ADAPTERS = ("console", "telegram", "matrix")
assert set(ADAPTERS) == set(CAPABILITIES), "every adapter needs a row in CAPABILITIES"


@pytest.fixture(scope="session")
def matrix_accounts(synapse: Synapse) -> tuple[MatrixUser, MatrixUser]:
    """The bot's account and a person's, registered once for the whole suite."""
    return synapse.new_user("contractbot"), synapse.new_user("person")


@pytest.fixture(params=ADAPTERS)
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    """The adapter named by the parameter, started, with a chat and its observer."""
    if request.param == "console":
        async with ConsoleRig().running() as console:
            yield console
    elif request.param == "telegram":
        async with TelegramRig.running() as telegram:
            yield telegram
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
