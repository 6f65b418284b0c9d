"""Which invites the bot accepts, and joining them (retried when the failure is temporary).

`is_direct` is set by the inviter, so it proves nothing: anyone on any server could
pull the bot into any room. An invite is accepted for a configured room, from an
admin, or (a direct chat, or any room) from a user of an allowed server, while the
bot is in fewer than `max_rooms` rooms. A room's server comes from its alias or the
inviter's user id, never from its room id: room version 12 ids have no server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nio import AsyncClient, InviteAliasEvent, JoinResponse

from bot.adapters.matrix_client import request
from bot.adapters.matrix_map import PLATFORM, error_for, invite_decision
from bot.adapters.matrix_rooms import RoomNames
from bot.chat import (
    ChatError,
    ChatKind,
    ChatRef,
    Incoming,
    IncomingKind,
    MaybeDelivered,
    OnIncoming,
    RateLimited,
    Sender,
    Transient,
)

log = logging.getLogger(__name__)

ANY_SERVER = "*"
JOIN_ATTEMPTS = 5  # a join that keeps failing for a temporary reason is given up after this


def server_of(name: str) -> str:
    """The server part of a user id (`@u:server`) or room alias (`#r:server`); "" if none."""
    if name[:1] not in ("@", "#") or ":" not in name:
        return ""
    return name.split(":", 1)[1].lower()


def default_servers(own_user_id: str, rooms: Iterable[str], admins: Iterable[str]) -> list[str]:
    """The bot's own server, the configured rooms' servers (from their aliases) and the
    admins' servers."""
    names = [own_user_id, *rooms, *admins]
    return sorted({s for s in (server_of(n) for n in names) if s})


@dataclass(frozen=True, slots=True)
class InvitePolicy:
    """`allowed_servers` (lower case; "*" for any) and the most rooms the bot stays in."""

    allowed_servers: frozenset[str]
    max_rooms: int = 200

    def allows(self, *names: str) -> bool:
        if ANY_SERVER in self.allowed_servers:
            return True
        return any(server_of(n) in self.allowed_servers for n in names if server_of(n))


@dataclass(frozen=True, slots=True)
class Verdict:
    accept: bool
    reason: str
    inviter: str = ""
    alias: str | None = None  # the room's canonical alias, when the invite tells it


@dataclass
class Invites:
    """Accepts or declines invites; a join that failed for a temporary reason is tried
    again at the next sync instead of being declined."""

    own_user_id: str
    policy: InvitePolicy
    admins: frozenset[str]
    _retry: dict[str, tuple[int, Verdict]] = field(default_factory=dict)  # room id -> tries

    def decide(
        self, client: AsyncClient, room_id: str, invite_state: Any, configured: set[str]
    ) -> Verdict:
        """Configured rooms and admins' invites are accepted; a direct chat only from a user
        of an allowed server, and while the bot is in fewer than `max_rooms` rooms."""
        base = invite_decision(invite_state, room_id, self.own_user_id, configured, self.admins)
        alias = next(
            (e.canonical_alias for e in invite_state if isinstance(e, InviteAliasEvent)), None
        )
        verdict = Verdict(base.accept, base.reason, base.inviter, alias)
        if not base.accept or base.reason in ("a configured room", "from an admin"):
            return verdict
        if not self.policy.allows(base.inviter):
            return Verdict(False, "the inviter's server is not allowed", base.inviter)
        if len(client.rooms) >= self.policy.max_rooms:
            return Verdict(False, "the bot is in [matrix] max_rooms rooms already", base.inviter)
        return verdict

    async def join(self, client: AsyncClient, room_id: str, verdict: Verdict) -> bool | None:
        """True: joined; False: refused for good (decline it); None: try again later."""
        try:
            resp = await request(client.join(room_id))
            error = None if isinstance(resp, JoinResponse) else error_for(resp)
        except ChatError as exc:  # the homeserver was not reached, or did not answer
            error = exc
        if error is None:
            self._retry.pop(room_id, None)
            return True
        attempts = self._retry.get(room_id, (0, verdict))[0] + 1
        temporary = isinstance(error, RateLimited | MaybeDelivered | Transient)
        if not temporary or attempts >= JOIN_ATTEMPTS:
            self._retry.pop(room_id, None)
            log.info("could not join a Matrix room: %s", error)
            return False
        self._retry[room_id] = (attempts, verdict)
        log.info("joining a Matrix room failed for now (%s); trying again", type(error).__name__)
        return None

    def waiting(self) -> list[tuple[str, Verdict]]:
        """Rooms whose join is to be tried again, with why they were accepted."""
        return [(room_id, verdict) for room_id, (_, verdict) in self._retry.items()]

    async def handle(
        self,
        client: AsyncClient,
        invited: dict[str, Any],
        names: RoomNames,
        rooms: list[str],
        on_incoming: OnIncoming,
    ) -> None:
        """A sync's invites (room id -> invite info), and the joins to try again."""
        configured = names.configured_ids(rooms)
        for room_id, info in invited.items():
            verdict = self.decide(client, room_id, info.invite_state, configured)
            if verdict.accept:
                await self._accept(client, room_id, verdict, (names, rooms), on_incoming)
            else:
                log.info("declined an invite to a Matrix room (%s)", verdict.reason)
                await request(client.room_leave(room_id))
        for room_id, verdict in self.waiting():
            if room_id not in invited:
                await self._accept(client, room_id, verdict, (names, rooms), on_incoming)

    async def _accept(
        self,
        client: AsyncClient,
        room_id: str,
        verdict: Verdict,
        known: tuple[RoomNames, list[str]],
        on_incoming: OnIncoming,
    ) -> None:
        """Join; a temporary failure is tried again at the next sync, not declined."""
        joined = await self.join(client, room_id, verdict)
        if joined is None:
            return
        if not joined:
            await request(client.room_leave(room_id))
            return
        log.info("accepted an invite to a Matrix room (%s)", verdict.reason)
        names, rooms = known
        if verdict.alias is not None and verdict.alias in rooms:
            names.learn(verdict.alias, room_id)
        sender = Sender(PLATFORM, verdict.inviter)
        # A configured room may be named by its alias: report every name, so it resumes.
        for name in names.names_of(room_id):
            chat = ChatRef(PLATFORM, name, ChatKind.GROUP)
            await on_incoming(Incoming(chat, sender, kind=IncomingKind.BOT_ADDED))
