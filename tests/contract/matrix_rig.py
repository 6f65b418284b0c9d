"""The Matrix adapter's rig: the session's real Synapse; a second account reads the room.

Each test gets a new room, created by a person who invites the bot and makes
it a moderator (power level 50, enough to pin), the way an organisation sets
up an announcement room. The observer reads the room's messages from Synapse
with the person's own matrix-nio client and applies `m.replace` edits the way
clients do: the latest edit by the original sender wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from nio import RoomGetStateEventResponse, RoomMessagesResponse, RoomPreset

from bot.adapters.matrix import MatrixAdapter
from bot.chat import ChatKind, ChatRef
from tests.contract.capabilities import CAPABILITIES
from tests.contract.relay import Relay
from tests.contract.rig import Refusing, Shown
from tests.synapse import Human, MatrixUser, Synapse

UNKNOWN_ROOM = "!no-such-room:localhost"


class MemoryState:
    """The adapter's small durable state, kept in memory for one test."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value


def content_bytes(content: dict[str, Any]) -> int:
    """The size of event content as Synapse stores it (compact JSON, UTF-8)."""
    return len(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode())


def room_view(events: list[dict[str, Any]], sender: str) -> list[Shown]:
    """`sender`'s messages in timeline order (oldest first), each showing its latest edit."""
    originals: dict[str, dict[str, Any]] = {}
    current: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.get("type") != "m.room.message" or event.get("sender") != sender:
            continue
        content = event.get("content", {})
        relation = content.get("m.relates_to") or {}
        if relation.get("rel_type") == "m.replace":
            target = relation.get("event_id")
            if target in originals and "m.new_content" in content:
                current[target] = content["m.new_content"]
            continue
        originals[event["event_id"]] = current[event["event_id"]] = content
    shown = []
    for event_id, original in originals.items():
        content = current[event_id]
        reply = (original.get("m.relates_to") or {}).get("m.in_reply_to", {}).get("event_id")
        text = str(content.get("body", ""))
        shown.append(Shown(event_id, text, reply_to=reply, size=content_bytes(original)))
    return shown


class MatrixRig:
    """A room on the session's Synapse with the bot as a moderator."""

    name = "matrix"
    caps = CAPABILITIES["matrix"]

    def __init__(self, synapse: Synapse, bot: MatrixUser, human: Human, room_id: str) -> None:
        self.synapse = synapse
        self.bot = bot
        self.human = human
        self.chat = ChatRef("matrix", room_id, ChatKind.GROUP, "Volunteers")
        self.adapter = self._adapter(bot)
        self._cleanups: list[Callable[[], Awaitable[None]]] = []

    def _adapter(self, user: MatrixUser, homeserver: str | None = None) -> MatrixAdapter:
        return MatrixAdapter(
            homeserver=homeserver or self.synapse.url,
            user_id=user.user_id,
            state=MemoryState(),
            access_token=user.access_token,
            rooms=[self.chat.id],
            exempt=True,
        )

    @classmethod
    @contextlib.asynccontextmanager
    async def running(
        cls, synapse: Synapse, bot: MatrixUser, person: MatrixUser
    ) -> AsyncIterator[MatrixRig]:
        async with Human(synapse, person) as human:
            resp = await human.client.room_create(
                name="Volunteers",
                invite=[bot.user_id],
                preset=RoomPreset.private_chat,
                power_level_override={"users": {bot.user_id: 50}},  # creators rank above all
            )
            room_id = getattr(resp, "room_id", None)
            assert isinstance(room_id, str), resp
            rig = cls(synapse, bot, human, room_id)
            await rig.adapter.start(None)  # joins the room it was invited to
            try:
                yield rig
            finally:
                for cleanup in reversed(rig._cleanups):
                    await cleanup()
                await rig.adapter.stop()

    async def shown(self, chat: ChatRef) -> list[Shown]:
        resp = await self.human.client.room_messages(chat.id, limit=1000)
        assert isinstance(resp, RoomMessagesResponse), resp
        events = [event.source for event in reversed(resp.chunk)]
        return room_view(events, self.bot.user_id)

    async def pinned(self, chat: ChatRef) -> list[str]:
        resp = await self.human.client.room_get_state_event(chat.id, "m.room.pinned_events")
        if not isinstance(resp, RoomGetStateEventResponse):
            return []
        return [str(e) for e in resp.content.get("pinned", [])]

    async def person_says(self, text: str) -> tuple[ChatRef, str]:
        return self.chat, await self.human.send_text(self.chat.id, text)

    async def gone_chat(self, how: str) -> ChatRef:
        if how == "removed":
            resp = await self.human.client.room_kick(self.chat.id, self.bot.user_id)
            assert type(resp).__name__ == "RoomKickResponse", resp
            return self.chat
        return ChatRef("matrix", UNKNOWN_ROOM, ChatKind.GROUP)

    async def move_chat(self, chat: ChatRef) -> str:
        """Upgrade the room (what a room admin does); Synapse tombstones the old one."""
        room = urllib.parse.quote(chat.id)
        token = self.human.user.access_token
        caps = await asyncio.to_thread(
            self.synapse.request, "GET", "/_matrix/client/v3/capabilities", token=token
        )
        version = caps["capabilities"]["m.room_versions"]["default"]
        path = f"/_matrix/client/v3/rooms/{room}/upgrade"
        body = {"new_version": version}
        result = await asyncio.to_thread(self.synapse.request, "POST", path, body, token)
        return str(result["replacement_room"])

    async def rate_limited(self) -> Refusing:
        """A second bot account held to one message a second (burst 1) in the same room."""
        slow = await asyncio.to_thread(self.synapse.new_user, "slowbot", exempt=False)
        await asyncio.to_thread(self.synapse.set_message_limit, slow.user_id, 1, 1)
        invited = await self.human.client.room_invite(self.chat.id, slow.user_id)
        assert type(invited).__name__ == "RoomInviteResponse", invited
        adapter = self._adapter(slow)
        await adapter.start(None)
        self._cleanups.append(adapter.stop)
        return Refusing(adapter, self.chat, _nothing)

    async def unreachable(self) -> Refusing:
        """The bot reaches Synapse through a relay, which then stops listening."""
        relay = await Relay.open(self.synapse.port)
        self._cleanups.append(relay.close)
        adapter = self._adapter(self.bot, homeserver=relay.url)
        await adapter.start(None)
        self._cleanups.append(adapter.stop)
        await relay.close()
        return Refusing(adapter, self.chat, relay.reopen)


async def _nothing() -> None:
    """A rate limit ends by itself."""
