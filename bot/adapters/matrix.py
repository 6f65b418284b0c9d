"""The Matrix adapter: a thin matrix-nio I/O shell around the pure `matrix_map` and
`matrix_render` (logging in and the client's life are `matrix_client`'s).

Rooms are named by id (`!x:server`), alias (`#x:server`, resolved and cached)
or, for private notices, by a user id (`@user:server`: the bot opens a direct
room with that user and remembers it). Sync events become `Incoming` through
`to_incoming`; posts become `m.notice` events. The outbox key is the
transaction id, so a re-send after a crash is deduplicated by the homeserver.
That only holds while the device stays the same, which is why the access token
and device id are kept in `state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    JoinResponse,
    LocalProtocolError,
    MatrixRoom,
    MegolmEvent,
    RoomGetStateEventResponse,
    RoomSendResponse,
    SyncResponse,
)

from bot.adapters.matrix_client import (
    Credentials,
    MatrixLoginError,
    close_client,
    log_in,
    log_in_again,
    new_client,
    pin_event,
    request,
    upload_png,
)
from bot.adapters.matrix_crypto import (
    Undecryptable,
    crypto_chores,
    device_notice,
    open_encrypted,
    prepare_room,
    upload_encrypted_png,
)
from bot.adapters.matrix_invites import InvitePolicy, Invites, default_servers
from bot.adapters.matrix_map import (
    PLATFORM,
    UNKNOWN_TOKEN,
    after_own_join,
    error_for,
    left_alone,
    to_incoming,
)
from bot.adapters.matrix_render import (
    SYNC_FILTER,
    edit_content,
    encrypted_image_content,
    image_content,
    message_content,
)
from bot.adapters.matrix_rooms import RoomNames
from bot.chat import (
    CallGate,
    ChatError,
    ChatGone,
    ChatKind,
    ChatRef,
    Incoming,
    IncomingKind,
    OnIncoming,
    PlatformLimits,
    Post,
    Rejected,
    Sender,
    SentRef,
    StateStore,
    Transient,
    pacer_for,
)
from bot.i18n import DEFAULT_LANGUAGE, Lang

__all__ = ["MatrixAdapter", "MatrixLoginError", "error_for", "to_incoming"]

log = logging.getLogger(__name__)

SYNC_TIMEOUT_MS = 30_000
HANDLED_KEEP = 500
TAKEOVER_WINDOW = 120.0  # seconds of events a new matrix role holder answers if unhandled


class TokenRefused(Exception):
    """The homeserver answered a sync with M_UNKNOWN_TOKEN."""


class MatrixAdapter:
    """Matrix behind the `ChatAdapter` interface."""

    platform = PLATFORM

    def __init__(
        self,
        *,
        homeserver: str,
        user_id: str,
        state: StateStore,
        access_token: str | None = None,
        device_id: str | None = None,
        password: str | None = None,
        rooms: Iterable[str] = (),
        admins: Iterable[str] = (),
        invites: InvitePolicy | None = None,
        rate: float = 0.2,
        burst: int = 10,
        exempt: bool = False,
        store_path: Path | None = None,
        language: str = DEFAULT_LANGUAGE,
        handled_state: StateStore | None = None,
        receive_in_role: bool = False,
    ) -> None:
        self.homeserver = homeserver
        self.language = language  # the admins' notices ([bot] language)
        self.user_id = user_id
        self.state = state
        self.rooms = list(rooms)
        self.admins = frozenset(admins)
        self.limits = PlatformLimits(
            text_max=60_000,
            caption_max=60_000,
            global_rate=0.0 if exempt else rate,
            per_chat_interval=0.0,
            burst=burst,
        )
        self.pacing = CallGate(pacer_for(self.limits))
        policy = invites or InvitePolicy(
            frozenset(default_servers(user_id, self.rooms, self.admins))
        )
        self._invites = Invites(user_id, policy, self.admins)
        self._credentials = Credentials(access_token, device_id, password)
        self.e2e = store_path is not None  # end-to-end encryption, with keys kept there
        self._store_path = store_path
        self._client: AsyncClient | None = None
        self._names = RoomNames(self._require_client, state)
        self._sync_task: asyncio.Task[None] | None = None
        self._encrypted: set[str] = set()
        self._undecryptable = Undecryptable()
        self._crypto_lock = asyncio.Lock()
        self.new_device: str | None = None  # set when the bot came up as a new device
        self._store_lost = False
        self._handled: deque[str] = deque(maxlen=HANDLED_KEEP)
        self.synced = asyncio.Event()  # set after the first sync since start
        # Several instances: each syncs as its own device, and only the matrix role's
        # holder hands events on (`receive`); the others keep recent ones for a takeover.
        self.handled_state = handled_state or state
        self._receive_in_role = receive_in_role
        self._receiving = not receive_in_role
        self._on_incoming: OnIncoming | None = None
        self._held_back: deque[tuple[float, Incoming]] = deque(maxlen=HANDLED_KEEP)

    # --- lifecycle --------------------------------------------------------------

    async def start(self, on_incoming: OnIncoming | None) -> None:
        """Log in, join the configured rooms, and (with `on_incoming`) start syncing."""
        try:
            await self._login()
            await self._join_configured()
            if self.new_device is not None or self._store_lost:
                await self._announce_device()
        except BaseException:
            await self._close_client()
            raise
        if on_incoming is not None:
            self.synced.clear()
            self._on_incoming = on_incoming
            await self._load_handled()
            self._sync_task = asyncio.create_task(self._sync_loop(on_incoming), name="matrix")

    @property
    def receives_in_role(self) -> bool:
        """True when events are handed on only while `receive` runs (several instances)."""
        return self._receive_in_role

    async def receive(self, stop: asyncio.Event) -> None:
        """Hand events on until `stop`: the job of the matrix role's holder. First the
        events this instance synced in the last `TAKEOVER_WINDOW` seconds that no holder
        handled (a former holder may have died before it did)."""
        on_incoming = self._on_incoming
        if on_incoming is None or not self._receive_in_role:
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

    async def stop(self) -> None:
        task, self._sync_task = self._sync_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close_client()

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await close_client(client)

    async def _login(self) -> None:
        device_id = self._credentials.device_id or await self.state.get("device_id")
        store = self._store_path
        self._client = client = new_client(
            self.homeserver, self.user_id, device_id, store_path=store
        )
        if store is None:
            await log_in(client, self.state, self.user_id, self._credentials)
            return
        session = await open_encrypted(client, self.state, self.user_id, self._credentials, store)
        self.e2e, self.new_device = session.encrypted, session.new_device
        self._store_lost = session.store_lost

    async def _join_configured(self) -> None:
        client = self._require_client()
        for name in self.rooms:
            resp = await request(client.join(name))
            if not isinstance(resp, JoinResponse):
                log.warning("could not join the configured room %s: %s", name, resp.message)
                continue
            if not name.startswith("!"):
                self._names.learn(name, resp.room_id)
            await self._check_encryption(resp.room_id, name)

    async def _check_encryption(self, room_id: str, name: str) -> None:
        client = self._require_client()
        resp = await request(client.room_get_state_event(room_id, "m.room.encryption"))
        if not isinstance(resp, RoomGetStateEventResponse) or not resp.content:
            return
        self._encrypted.add(room_id)
        if not self.e2e:
            log.warning("the configured room %s is encrypted but encryption is off", name)

    def _require_client(self) -> AsyncClient:
        if self._client is None:
            raise Transient("the Matrix adapter is not started")
        return self._client

    # --- receiving --------------------------------------------------------------------

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
        client = self._require_client()
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
        client = self._require_client()
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
        if self.e2e:
            await crypto_chores(client)
            for event, room in self._undecryptable.decrypt_pending(client):
                await self._deliver(to_incoming(event, room, self.user_id), on_incoming)
        await self.state.set("sync_token", resp.next_batch)
        return str(resp.next_batch)

    async def _handle_joined(self, resp: Any, on_incoming: OnIncoming) -> None:
        client = self._require_client()
        for room_id, info in resp.rooms.join.items():
            room = client.rooms.get(room_id) or MatrixRoom(room_id, self.user_id)
            if room.encrypted:
                self._encrypted.add(room_id)
            events = info.timeline.events
            for event in after_own_join(events, self.user_id):
                if isinstance(event, MegolmEvent):  # nio could not decrypt it
                    if self.e2e:
                        await self._undecryptable.note(client, event, room)
                    continue
                await self._deliver(to_incoming(event, room, self.user_id), on_incoming)
            if left_alone(events, room, self.user_id) and room_id not in self._names.configured_ids(
                self.rooms
            ):
                # The person left our direct room: nobody would read it any more.
                await request(client.room_leave(room_id))

    async def _handle_left(self, resp: Any, on_incoming: OnIncoming) -> None:
        client = self._require_client()
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
        if self._receive_in_role:
            await self._remember(incoming.message_id)
        try:
            await on_incoming(incoming)
        except Exception:
            log.exception("handling a Matrix event failed")
        if not self._receive_in_role:
            await self._remember(incoming.message_id)

    async def _remember(self, event_id: str | None) -> None:
        if event_id is not None:
            self._handled.append(event_id)
            await self.handled_state.set("handled_events", json.dumps(list(self._handled)))

    async def _handle_invites(self, resp: Any, on_incoming: OnIncoming) -> None:
        # Every instance joins or declines alike; the matrix role's holder reports a join.
        report = on_incoming if self._receiving else _unreported
        await self._invites.handle(
            self._require_client(), resp.rooms.invite, self._names, self.rooms, report
        )

    # --- sending ----------------------------------------------------------------------

    async def send(
        self, chat: ChatRef, post: Post, *, key: str, reply_to: str | None = None
    ) -> SentRef:
        """Send `post` as an `m.notice`; `key` is the transaction id."""
        room_id = await self._names.room_for(chat.id)
        content = partial(message_content, post, reply_to=reply_to)
        try:
            event_id = await self._send_event(room_id, await self._fitted(room_id, content), key)
        except ChatGone:
            if not chat.id.startswith("@"):
                raise
            # The person left our direct room: open a new one.
            await self._names.forget_direct(chat.id)
            room_id = await self._names.room_for(chat.id)
            event_id = await self._send_event(room_id, await self._fitted(room_id, content), key)
        if post.image_png is not None:
            await self._send_picture(room_id, post.image_png, f"{key}-picture")
        if post.pin:
            try:
                async with self.pacing.call(room_id, "channel"):
                    await pin_event(self._require_client(), room_id, event_id)
            except ChatError as exc:  # the post is out; a pin is a nicety
                log.warning("matrix: could not pin a post: %s", type(exc).__name__)
        return SentRef(chat, event_id)

    async def _send_picture(self, room_id: str, png: bytes, txn_id: str) -> None:
        """A generated picture (a progress card) after the text, which stands alone if it fails.

        In an encrypted room the file is uploaded encrypted and its key goes in the event."""
        client = self._require_client()
        try:
            if self.e2e and await self._is_encrypted(room_id):
                file = await upload_encrypted_png(client, png)
                content = encrypted_image_content(file, png)
            else:
                content = image_content(await upload_png(client, png), png)
            await self._send_event(room_id, content, txn_id)
        except ChatError as exc:
            log.warning("matrix: could not send a picture: %s", type(exc).__name__)

    async def edit(self, sent: SentRef, post: Post, *, key: str) -> SentRef:
        """Replace an earlier post with an `m.replace` edit event; `key` is its transaction id
        (one per edit: an edit back to an earlier text is a new event, not a duplicate)."""
        room_id = await self._names.room_for(sent.chat.id)
        content = await self._fitted(room_id, partial(edit_content, post, sent.message_id))
        await self._send_event(room_id, content, key)
        return sent

    async def _fitted(self, room_id: str, build: Callable[..., dict[str, Any]]) -> dict[str, Any]:
        """Content built to fit one event, encrypted (a third larger, or more) or not."""
        return build(encrypted=await self._is_encrypted(room_id))

    async def _is_encrypted(self, room_id: str) -> bool:
        if not self.e2e:
            return room_id in self._encrypted
        client = self._require_client()
        async with self._crypto_lock:  # the room known to nio, its devices, the key shared
            await prepare_room(client, room_id)
        return bool(client.rooms[room_id].encrypted)

    async def _send_event(self, room_id: str, content: dict[str, Any], txn_id: str) -> str:
        client = self._require_client()
        if room_id in self._encrypted and not self.e2e:
            raise Rejected("the room is encrypted and the bot's encryption is off")
        try:
            if self.e2e:
                await self._is_encrypted(room_id)  # ready to encrypt, should the room be
            async with self.pacing.call(room_id, "channel"):
                resp = await request(
                    client.room_send(
                        room_id, "m.room.message", content, tx_id=txn_id,
                        ignore_unverified_devices=True,
                    )
                )  # fmt: skip
        except LocalProtocolError as exc:
            raise Transient(f"not ready to send: {exc}") from None
        if isinstance(resp, RoomSendResponse):
            return str(resp.event_id)
        raise error_for(resp)

    async def _announce_device(self) -> None:
        """Tell the admins the encryption store was lost: a new device, or encryption off."""
        device = self.new_device or self._require_client().device_id
        lang = Lang.of(self.language)
        notice = replace(Post.text(device_notice(self.new_device, lang)), lang=lang.code)
        for admin in sorted(self.admins):
            try:
                await self.send(ChatRef(PLATFORM, admin), notice, key=f"device-{device}")
            except ChatError as exc:
                log.warning("matrix: could not tell an admin about the device: %s", exc)


async def _unreported(incoming: Incoming) -> None:
    """What an instance without the matrix role does with a join it made: nothing."""
