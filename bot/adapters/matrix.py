"""The Matrix adapter: a thin matrix-nio I/O shell around the pure `matrix_map` and
`matrix_render` (logging in and the client's life are `matrix_client`'s, syncing `matrix_sync`'s).

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
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    JoinResponse,
    LocalProtocolError,
    RoomGetStateEventResponse,
    RoomSendResponse,
)

from bot.adapters.matrix_client import (
    Credentials,
    MatrixLoginError,
    close_client,
    log_in,
    new_client,
    pin_event,
    request,
    upload_png,
)
from bot.adapters.matrix_crypto import (
    device_notice,
    open_encrypted,
    prepare_room,
    upload_encrypted_png,
)
from bot.adapters.matrix_invites import InvitePolicy, Invites, default_servers
from bot.adapters.matrix_map import (
    PLATFORM,
    error_for,
    to_incoming,
)
from bot.adapters.matrix_render import (
    edit_content,
    encrypted_image_content,
    image_content,
    message_content,
)
from bot.adapters.matrix_rooms import RoomNames
from bot.adapters.matrix_sync import MatrixSync
from bot.chat import (
    CallGate,
    ChatError,
    ChatGone,
    ChatRef,
    OnIncoming,
    PlatformLimits,
    Post,
    Rejected,
    SentRef,
    StateStore,
    Transient,
    pacer_for,
)
from bot.i18n import DEFAULT_LANGUAGE, Lang

__all__ = ["MatrixAdapter", "MatrixLoginError", "error_for", "to_incoming"]

log = logging.getLogger(__name__)


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
        self.limits = _limits(rate, burst, exempt=exempt)
        self.pacing = CallGate(pacer_for(self.limits))
        policy = invites or InvitePolicy(
            frozenset(default_servers(user_id, self.rooms, self.admins))
        )
        self._credentials = Credentials(access_token, device_id, password)
        self.e2e = store_path is not None  # end-to-end encryption, with keys kept there
        self._store_path = store_path
        self._client: AsyncClient | None = None
        self._names = RoomNames(self._require_client, state)
        self._encrypted: set[str] = set()
        self._crypto_lock = asyncio.Lock()
        self.new_device: str | None = None  # set when the bot came up as a new device
        self._store_lost = False
        # Several instances: each syncs as its own device, and only the matrix role's
        # holder hands events on (`receive`); the others keep recent ones for a takeover.
        invite_policy = Invites(user_id, policy, self.admins)
        self._sync = self._receiver(invite_policy, handled_state or state, receive_in_role)

    def _receiver(
        self, invites: Invites, handled_state: StateStore, receive_in_role: bool
    ) -> MatrixSync:
        return MatrixSync(
            user_id=self.user_id,
            client=self._require_client,
            close_client=self._close_client,
            e2e=lambda: self.e2e,
            state=self.state,
            handled_state=handled_state,
            credentials=self._credentials,
            names=self._names,
            rooms=self.rooms,
            invites=invites,
            encrypted=self._encrypted,
            receive_in_role=receive_in_role,
        )

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
            await self._sync.start(on_incoming)

    @property
    def receives_in_role(self) -> bool:
        """True when events are handed on only while `receive` runs (several instances)."""
        return self._sync.receive_in_role

    @property
    def synced(self) -> asyncio.Event:
        """Set after the first sync since start."""
        return self._sync.synced

    async def receive(self, stop: asyncio.Event) -> None:
        """Hand events on until `stop`: the job of the matrix role's holder (see
        `MatrixSync.receive`)."""
        await self._sync.receive(stop)

    async def stop(self) -> None:
        await self._sync.stop()
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


def _limits(rate: float, burst: int, *, exempt: bool) -> PlatformLimits:
    """Matrix's limits: events up to about 64 KiB, `rate` events a second (none if exempt)."""
    return PlatformLimits(
        text_max=60_000,
        caption_max=60_000,
        global_rate=0.0 if exempt else rate,
        per_chat_interval=0.0,
        burst=burst,
    )
