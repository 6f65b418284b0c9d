"""The Matrix adapter in an encrypted room: the bot encrypts, the observer decrypts.

The same rig as `matrix_rig`, except that the room is created encrypted
(`m.room.encryption` in its initial state, as Element does), the bot runs
with a crypto store, and the person reads the room with an encrypting
matrix-nio client: what `shown` returns is what that person could decrypt,
so a post the bot failed to encrypt for them would be missing.

Accounts and their stores live for the whole session: a device's keys are
published once, and a second store for the same device could not publish
its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from nio import RoomMessagesResponse, RoomPreset

from bot.adapters.matrix import MatrixAdapter
from bot.chat import ChatRef
from tests.contract.capabilities import CAPABILITIES
from tests.contract.matrix_rig import MatrixRig, MemoryState, content_bytes, room_view
from tests.contract.rig import Shown
from tests.synapse import Human, MatrixUser, Synapse

ENCRYPTION = {"type": "m.room.encryption", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


class MatrixE2ERig(MatrixRig):
    """An encrypted room on the session's Synapse with the bot as a moderator."""

    name = "matrix-e2e"
    caps = CAPABILITIES["matrix-e2e"]
    stores: Path = Path()

    def _adapter(self, user: MatrixUser, homeserver: str | None = None) -> MatrixAdapter:
        return MatrixAdapter(
            homeserver=homeserver or self.synapse.url,
            user_id=user.user_id,
            state=MemoryState(),
            access_token=user.access_token,
            rooms=[self.chat.id],
            exempt=True,
            store_path=self.stores / user.user_id,
        )

    @classmethod
    @contextlib.asynccontextmanager
    async def running_encrypted(
        cls, synapse: Synapse, bot: MatrixUser, person: MatrixUser, stores: Path
    ) -> AsyncIterator[MatrixE2ERig]:
        cls.stores = stores
        async with Human(synapse, person, store=stores / person.user_id) as human:
            resp = await human.client.room_create(
                name="Volunteers",
                invite=[bot.user_id],
                preset=RoomPreset.private_chat,
                power_level_override={"users": {bot.user_id: 50}},
                initial_state=[ENCRYPTION],
            )
            room_id = getattr(resp, "room_id", None)
            assert isinstance(room_id, str), resp
            rig = cls(synapse, bot, human, room_id)
            await rig.adapter.start(None)
            try:
                yield rig
            finally:
                for cleanup in reversed(rig._cleanups):
                    await cleanup()
                await rig.adapter.stop()

    async def shown(self, chat: ChatRef) -> list[Shown]:
        await self.human.sync()  # the room keys the bot sent since
        resp = await self.human.client.room_messages(chat.id, limit=1000)
        assert isinstance(resp, RoomMessagesResponse), resp
        events = [event.source for event in reversed(resp.chunk)]
        encrypted = [e for e in events if e.get("type") == "m.room.encrypted"]
        assert not encrypted, f"the person cannot decrypt {len(encrypted)} events"
        # The size that counts against Synapse's limit is the encrypted content's.
        return [
            replace(p, size=await self._stored_size(p.id))
            for p in room_view(events, self.bot.user_id)
        ]

    async def _stored_size(self, event_id: str | None) -> int:
        room, event = (urllib.parse.quote(x) for x in (self.chat.id, event_id or ""))
        path = f"/_matrix/client/v3/rooms/{room}/event/{event}"
        token = self.human.user.access_token
        stored = await asyncio.to_thread(self.synapse.request, "GET", path, token=token)
        assert stored["type"] == "m.room.encrypted", stored["type"]
        return content_bytes(stored["content"])

    async def person_says(self, text: str) -> tuple[ChatRef, str]:
        await self.human.wait_until(lambda: self.bot.user_id in self._members())
        return self.chat, await self.human.send_text(self.chat.id, text)

    def _members(self) -> set[str]:
        room = self.human.client.rooms.get(self.chat.id)
        return set(room.users) if room is not None else set()
