"""Which Matrix room a chat id names: a room id, a room alias, or a person (a direct room).

Aliases are resolved once and cached; a direct room the bot opened for a
person is kept in the state store (`dm:<user id>`), so private notices keep
going to the same room across restarts until the person leaves it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable

from nio import AsyncClient, RoomCreateResponse, RoomPreset, RoomResolveAliasResponse

from bot.adapters.matrix_client import request
from bot.adapters.matrix_map import error_for
from bot.chat import Rejected, StateStore

__all__ = ["RoomNames"]

log = logging.getLogger(__name__)

_USER_ID = re.compile(r"^@[^:\s]+:\S+$")


class RoomNames:
    """Room ids for the names the bot is given (aliases and user ids), learnt as it goes."""

    def __init__(self, client: Callable[[], AsyncClient], state: StateStore) -> None:
        self._client = client
        self._state = state
        self._ids: dict[str, str] = {}  # alias or user id -> room id
        self._dm_lock = asyncio.Lock()

    def learn(self, name: str, room_id: str) -> None:
        """Remember that `name` (an alias or a user id) leads to `room_id`."""
        if name != room_id:
            self._ids[name] = room_id

    def configured_ids(self, rooms: Iterable[str]) -> set[str]:
        """The configured rooms, by id and by the ids their aliases resolved to."""
        rooms = list(rooms)
        return set(rooms) | {self._ids[n] for n in rooms if n in self._ids}

    def names_of(self, room_id: str) -> list[str]:
        """Every name the bot knows a room by: its id, and aliases or user ids that lead to it."""
        return [room_id, *(name for name, rid in self._ids.items() if rid == room_id)]

    async def forget(self, room_id: str) -> None:
        """The bot left the room: no name leads there any more."""
        for name in [n for n, rid in self._ids.items() if rid == room_id]:
            del self._ids[name]
            if name.startswith("@"):
                await self._state.set(f"dm:{name}", "")

    async def forget_direct(self, user_id: str) -> None:
        """The person left our direct room: the next message opens a new one."""
        self._ids.pop(user_id, None)
        await self._state.set(f"dm:{user_id}", "")

    async def room_for(self, chat_id: str) -> str:
        """The room id for a room id, a room alias or (a direct room with) a user id."""
        if chat_id.startswith("!"):
            return chat_id
        if chat_id in self._ids:
            return self._ids[chat_id]
        if chat_id.startswith("#"):
            resp = await request(self._client().room_resolve_alias(chat_id))
            if not isinstance(resp, RoomResolveAliasResponse):
                raise error_for(resp)
            self._ids[chat_id] = resp.room_id
            return str(resp.room_id)
        if _USER_ID.match(chat_id):
            return await self._direct_room(chat_id)
        raise Rejected("not a Matrix room id, room alias or user id")

    async def _direct_room(self, user_id: str) -> str:
        async with self._dm_lock:
            room_id = self._ids.get(user_id) or await self._state.get(f"dm:{user_id}")
            if not room_id:
                resp = await request(
                    self._client().room_create(
                        is_direct=True, invite=[user_id], preset=RoomPreset.trusted_private_chat
                    )
                )
                if not isinstance(resp, RoomCreateResponse):
                    raise error_for(resp)
                room_id = str(resp.room_id)
                await self._state.set(f"dm:{user_id}", room_id)
                log.info("opened a direct Matrix room for private messages")
            self._ids[user_id] = room_id
            return room_id
