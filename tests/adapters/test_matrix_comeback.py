"""A configured Matrix room the bot was kicked from comes back when it is invited again
(issue 14), against a real Synapse."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nio import RoomKickResponse

from bot.chat import Post
from bot.outbox import Item
from bot.storage import feeds as fq
from bot.storage import open_database
from tests.adapters.test_matrix_synapse import (
    bot_config,
    channel_target,
    make_adapter,
    notices,
    running_bot,
)
from tests.synapse import Human, Synapse


async def test_a_kicked_bot_invited_back_resumes_its_room(synapse: Synapse, tmp_path: Path) -> None:
    bot, person = synapse.new_user("bot"), synapse.new_user("ann")
    async with Human(synapse, person) as human:
        alias_local = f"back_{person.user_id[1:].split(':')[0]}"
        room_id = await human.create_room([bot.user_id], alias=alias_local)
        alias = f"#{alias_local}:{synapse.server_name}"
        config = bot_config(tmp_path, synapse, bot, channel=alias)
        async with open_database(tmp_path / "bot.sqlite3") as db:
            adapter = make_adapter(config, db, bot)
            async with running_bot(config, db, adapter) as app:
                kicked = await human.client.room_kick(room_id, bot.user_id)
                assert isinstance(kicked, RoomKickResponse), kicked
                outbox = app.services.outbox
                await outbox.enqueue_alone(Item("article", Post.text("While out")),
                                           [channel_target(alias)])  # fmt: skip
                async with asyncio.timeout(15):
                    while await fq.gone_channels(db) != {"news"}:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)

                await human.client.room_invite(room_id, bot.user_id)
                async with asyncio.timeout(15):
                    while await fq.gone_channels(db):  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                targets = await app.services.audience.channel_targets(["news"])
                await outbox.enqueue_alone(Item("article", Post.text("Back again")), targets)
                await human.wait_until(lambda: len(notices(human, room_id, bot)) >= 1)
    assert [n["content"]["body"] for n in notices(human, room_id, bot)] == ["Back again"]
