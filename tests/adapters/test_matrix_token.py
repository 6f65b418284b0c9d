"""A refused Matrix access token (M_UNKNOWN_TOKEN), against a real Synapse (issue 14).

Before: the sync loop retried it forever. Now: log in again with the password when
there is one, else stop the Matrix adapter and tell the admins on the other platforms.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.adapters.matrix import MatrixAdapter
from bot.chat import IncomingKind
from bot.storage import Database
from bot.storage.state import DatabaseStateStore
from tests.adapters.test_matrix_synapse import Collector
from tests.synapse import Human, MatrixUser, Synapse


def adapter_for(synapse: Synapse, db: Database, bot: MatrixUser, **options: str) -> MatrixAdapter:
    return MatrixAdapter(
        homeserver=synapse.url,
        user_id=bot.user_id,
        state=DatabaseStateStore(db, "matrix."),
        access_token=bot.access_token,
        exempt=True,
        **options,
    )


async def refuse_the_token(synapse: Synapse, bot: MatrixUser, human: Human, room: str) -> None:
    """Log the token out, then wake the bot's pending sync so that its next one is refused."""
    await asyncio.to_thread(synapse.request, "POST", "/_matrix/client/v3/logout", {},
                            bot.access_token)  # fmt: skip
    await human.send_text(room, "wake up")


async def test_without_a_password_the_matrix_adapter_stops_and_says_why(
    synapse: Synapse, db: Database
) -> None:
    bot, person = synapse.new_user("bot"), synapse.new_user("ann")
    adapter, seen = adapter_for(synapse, db, bot), Collector()
    async with Human(synapse, person) as human:
        room = await human.create_room([bot.user_id], is_direct=True)
        await adapter.start(seen.add)
        try:
            async with asyncio.timeout(15):
                while room not in (adapter._client.rooms if adapter._client else {}):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            await refuse_the_token(synapse, bot, human, room)
            stopped = await seen.wait_for(lambda i: i.kind is IncomingKind.PLATFORM_STOPPED, 20)
        finally:
            await adapter.stop()
    assert "no password_env" in stopped.text
    assert adapter._client is None  # the adapter let go of its client: no retry loop


async def test_with_a_password_the_matrix_adapter_logs_in_again(
    synapse: Synapse, db: Database, tmp_path: Path
) -> None:
    bot, person = synapse.new_user("bot"), synapse.new_user("ann")
    adapter, seen = adapter_for(synapse, db, bot, password=bot.password), Collector()
    state = DatabaseStateStore(db, "matrix.")
    async with Human(synapse, person) as human:
        room = await human.create_room([bot.user_id], is_direct=True)
        await adapter.start(seen.add)
        try:
            async with asyncio.timeout(15):
                while room not in (adapter._client.rooms if adapter._client else {}):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            await refuse_the_token(synapse, bot, human, room)
            async with asyncio.timeout(20):
                while await state.get("access_token") in (None, bot.access_token):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            await human.send_text(room, "!help")
            await seen.wait_for(lambda i: i.text == "!help", 20)  # still syncing
        finally:
            await adapter.stop()
    assert not any(i.kind is IncomingKind.PLATFORM_STOPPED for i in seen.items)
