"""The Matrix adapter's receiving half: the sync loop, and events handed on once.

Each sync's invites, joined-room timelines and left rooms become `Incoming`
through the pure `matrix_map`; an event handed on is remembered (in
`handled_state`) so that it is never answered twice. With several instances
every one syncs as its own device, but only the matrix role's holder hands
events on (`receive`); the others hold recent ones back for a takeover.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from nio import AsyncClient, MatrixRoom, MegolmEvent, SyncResponse

from bot.adapters.matrix_client import Credentials, log_in_again, request
from bot.adapters.matrix_crypto import Undecryptable, crypto_chores
from bot.adapters.matrix_invites import Invites
from bot.adapters.matrix_map import (
    PLATFORM,
    UNKNOWN_TOKEN,
    after_own_join,
    left_alone,
    to_incoming,
)
from bot.adapters.matrix_render import SYNC_FILTER
from bot.adapters.matrix_rooms import RoomNames
from bot.chat import (
    ChatKind,
    ChatRef,
    Incoming,
    IncomingKind,
    OnIncoming,
    Sender,
    StateStore,
    Transient,
)

log = logging.getLogger(__name__)

SYNC_TIMEOUT_MS = 30_000
HANDLED_KEEP = 500
TAKEOVER_WINDOW = 120.0  # seconds of events a new matrix role holder answers if unhandled


class TokenRefused(Exception):
    """The homeserver answered a sync with M_UNKNOWN_TOKEN."""


class MatrixSync:
    """Syncs with the homeserver and hands what it brings to `on_incoming`."""

    def __init__(
        self,
        *,
        user_id: str,
        client: Callable[[], AsyncClient],
        close_client: Callable[[], Awaitable[None]],
        e2e: Callable[[], bool],
        state: StateStore,
        handled_state: StateStore,
        credentials: Credentials,
        names: RoomNames,
        rooms: list[str],
        invites: Invites,
        encrypted: set[str],
        receive_in_role: bool,
    ) -> None:
        self.user_id = user_id
        self._client = client
        self._close_client = close_client
        self._e2e = e2e
        self.state = state
        self.handled_state = handled_state
        self._credentials = credentials
        self._names = names
        self.rooms = rooms
        self._invites = invites
        self._encrypted = encrypted  # shared with the sending half
        self._undecryptable = Undecryptable()
        self._handled: deque[str] = deque(maxlen=HANDLED_KEEP)
        self.synced = asyncio.Event()  # set after the first sync since start
        self.receive_in_role = receive_in_role
        self._receiving = not receive_in_role
        self._on_incoming: OnIncoming | None = None
        self._held_back: deque[tuple[float, Incoming]] = deque(maxlen=HANDLED_KEEP)
        self._task: asyncio.Task[None] | None = None

    async def start(self, on_incoming: OnIncoming) -> None:
        """Start syncing in the background."""
        self.synced.clear()
        self._on_incoming = on_incoming
        await self._load_handled()
        self._task = asyncio.create_task(self._sync_loop(on_incoming), name="matrix")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def receive(self, stop: asyncio.Event) -> None:
        """Hand events on until `stop`: the job of the matrix role's holder. First the
        events this instance synced in the last `TAKEOVER_WINDOW` seconds that no holder
        handled (a former holder may have died before it did)."""
        on_incoming = self._on_incoming
        if on_incoming is None or not self.receive_in_role:
            raise RuntimeError("receive() needs an adapter started with receive_in_role")
        await self._load_handled()
        self._receiving = True
        try:
            horizon = time.monotonic() - TAKEOVER_WINDOW
            held_back, self._held_back = list(self._held_back), deque(maxlen=HANDLED_KEEP)
            for seen, incoming in held_back:
                if seen >= horizon:
                    await self._deliver(incoming, on_incoming)
            await stop.wait()
        finally:
            self._receiving = False

    async def _load_handled(self) -> None:
        self._handled.clear()
        self._handled.extend(json.loads(await self.handled_state.get("handled_events") or "[]"))

    async def _sync_loop(self, on_incoming: OnIncoming) -> None:
        since = await self.state.get("sync_token")
        backoff = 1.0
        while True:
            try:
                since = await self._sync_once(since, on_incoming)
            except TokenRefused:
                if not await self._log_in_again(on_incoming):
                    return
                continue
            except Exception as exc:
                # Whatever went wrong, the next sync starts from the last stored token.
                log.warning("Matrix sync failed (%s); retrying in %.0fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            backoff = 1.0
            self.synced.set()

    async def _log_in_again(self, on_incoming: OnIncoming) -> bool:
        """The homeserver no longer takes the access token (M_UNKNOWN_TOKEN): log in again
        with the password, else stop this adapter and say so; the rest of the bot runs on."""
        client = self._client()
        reason = await log_in_again(client, self.state, self.user_id, self._credentials)
        if reason is None:
            return True
        log.error("matrix: stopping the Matrix adapter: %s", reason)
        await self._close_client()
        me = ChatRef(PLATFORM, self.user_id, ChatKind.PRIVATE)
        kind = IncomingKind.PLATFORM_STOPPED
        await on_incoming(Incoming(me, Sender(PLATFORM, self.user_id), reason, kind=kind))
        return False

    async def _sync_once(self, since: str | None, on_incoming: OnIncoming) -> str:
        """One sync: handle what it brought, then store its token; return the token."""
        client = self._client()
        resp = await request(
            client.sync(
                timeout=SYNC_TIMEOUT_MS,
                sync_filter=SYNC_FILTER,
                since=since,
                # Once per start: room names and members, so chat kinds are right.
                full_state=not self.synced.is_set(),
            )
        )
        if not isinstance(resp, SyncResponse):
            if getattr(resp, "status_code", None) == UNKNOWN_TOKEN:
                raise TokenRefused
            raise Transient(str(resp))
        await self._handle_invites(resp, on_incoming)
        if since is not None:  # the very first sync is history: only its token matters
            await self._handle_joined(resp, on_incoming)
            await self._handle_left(resp, on_incoming)
        if self._e2e():
            await crypto_chores(client)
            for event, room in self._undecryptable.decrypt_pending(client):
                await self._deliver(to_incoming(event, room, self.user_id), on_incoming)
        await self.state.set("sync_token", resp.next_batch)
        return str(resp.next_batch)

    async def _handle_joined(self, resp: Any, on_incoming: OnIncoming) -> None:
        client = self._client()
        for room_id, info in resp.rooms.join.items():
            room = client.rooms.get(room_id) or MatrixRoom(room_id, self.user_id)
            if room.encrypted:
                self._encrypted.add(room_id)
            events = info.timeline.events
            for event in after_own_join(events, self.user_id):
                if isinstance(event, MegolmEvent):  # nio could not decrypt it
                    if self._e2e():
                        await self._undecryptable.note(client, event, room)
                    continue
                await self._deliver(to_incoming(event, room, self.user_id), on_incoming)
            if left_alone(events, room, self.user_id) and room_id not in self._names.configured_ids(
                self.rooms
            ):
                # The person left our direct room: nobody would read it any more.
                await request(client.room_leave(room_id))

    async def _handle_left(self, resp: Any, on_incoming: OnIncoming) -> None:
        client = self._client()
        for room_id, info in resp.rooms.leave.items():
            room = client.rooms.pop(room_id, None) or MatrixRoom(room_id, self.user_id)
            for event in info.timeline.events:
                incoming = to_incoming(event, room, self.user_id)
                if incoming is None or incoming.kind is not IncomingKind.BOT_REMOVED:
                    continue
                # Deliveries may name the room by alias or user id: report every name (the
                # matrix role's holder does, with several instances).
                for name in self._names.names_of(room_id) if self._receiving else []:
                    chat = ChatRef(PLATFORM, name, incoming.chat.kind, incoming.chat.title)
                    await on_incoming(Incoming(chat, incoming.sender, kind=incoming.kind))
                await self._names.forget(room_id)

    async def _deliver(self, incoming: Incoming | None, on_incoming: OnIncoming) -> None:
        if incoming is None:
            return
        if not self._receiving:
            if incoming.message_id is not None:
                self._held_back.append((time.monotonic(), incoming))
            return
        if incoming.message_id is not None and incoming.message_id in self._handled:
            return
        # One instance remembers an event after handling it: should it crash in between,
        # the reply's transaction id makes the homeserver drop the second answer. Several
        # instances are several devices, whose transaction ids are their own: there the
        # event is remembered first, so that the next holder never answers it again.
        if self.receive_in_role:
            await self._remember(incoming.message_id)
        try:
            await on_incoming(incoming)
        except Exception:
            log.exception("handling a Matrix event failed")
        if not self.receive_in_role:
            await self._remember(incoming.message_id)

    async def _remember(self, event_id: str | None) -> None:
        if event_id is not None:
            self._handled.append(event_id)
            await self.handled_state.set("handled_events", json.dumps(list(self._handled)))

    async def _handle_invites(self, resp: Any, on_incoming: OnIncoming) -> None:
        # Every instance joins or declines alike; the matrix role's holder reports a join.
        report = on_incoming if self._receiving else _unreported
        await self._invites.handle(
            self._client(), resp.rooms.invite, self._names, self.rooms, report
        )


async def _unreported(incoming: Incoming) -> None:
    """What an instance without the matrix role does with a join it made: nothing."""
