"""Matrix end-to-end encryption: the crypto store, rooms made ready for an encrypted send,
undecryptable events, encrypted pictures.

matrix-nio (with vodozemac) does the cryptography; this module does the chores
around it that a long-running bot needs:

- The store folder holds one SQLite file per device (`<user>_<device>.db`, nio's
  naming) with the device's identity keys and every Olm/Megolm session. The state
  store remembers every device the bot made keys for (`crypto_devices`), so a
  device whose store file is gone is recognised: its keys live on the homeserver
  and cannot be made again, so the bot must log in as a new device.
- Before an encrypted send the room must be known to nio with all its members
  (nio raises "No such room" for a room it has not synced): `prepare_room` reads
  the room's state once when it is missing, asks for the members' device lists
  and shares the room key with every device that is not blacklisted (trust on
  first use, see docs/matrix.md).
- An event the bot cannot decrypt is logged once, its key is requested from the
  sender's devices, and it is decrypted and handled when the key arrives
  (`Undecryptable`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    Event,
    LocalProtocolError,
    MatrixRoom,
    MegolmEvent,
    RoomGetStateResponse,
    RoomMemberEvent,
    UploadResponse,
)
from nio.exceptions import EncryptionError

from bot.adapters.matrix_client import Credentials, log_in, request
from bot.adapters.matrix_map import error_for
from bot.chat import StateStore
from bot.i18n import Lang

__all__ = [
    "Session",
    "Undecryptable",
    "crypto_chores",
    "device_notice",
    "device_usable",
    "open_encrypted",
    "prepare_room",
    "remember_device",
    "store_file",
    "upload_encrypted_png",
]

log = logging.getLogger(__name__)

DEVICES_KEY = "crypto_devices"
PENDING_KEEP = 1000  # undecryptable events kept for a key that may still arrive
SHARE_WAIT = 60.0


def store_file(store_path: Path, user_id: str, device_id: str) -> Path:
    """The SQLite file nio keeps one device's keys and sessions in."""
    return store_path / f"{user_id}_{device_id}.db"


async def known_devices(state: StateStore) -> list[str]:
    """Every device the bot has made encryption keys for, oldest first."""
    return list(json.loads(await state.get(DEVICES_KEY) or "[]"))


async def device_usable(state: StateStore, store_path: Path, user_id: str, device_id: str) -> bool:
    """False for a device whose keys the bot made once but whose store file is gone."""
    if store_file(store_path, user_id, device_id).exists():
        return True
    return device_id not in await known_devices(state)


async def remember_device(state: StateStore, device_id: str) -> str | None:
    """Record `device_id` as one the bot made keys for; the device it replaces, if any."""
    devices = await known_devices(state)
    if device_id in devices:
        return None
    await state.set(DEVICES_KEY, json.dumps([*devices, device_id]))
    return devices[-1] if devices else None


@dataclass(frozen=True, slots=True)
class Session:
    """How the login went: whether the device can encrypt, and whether it is a new one."""

    encrypted: bool
    new_device: str | None = None
    store_lost: bool = False  # and no new device could be made: encryption is off


async def open_encrypted(
    client: AsyncClient, state: StateStore, user_id: str, credentials: Credentials, store: Path
) -> Session:
    """Log in, open the device's store and publish its keys.

    A device whose store is lost is replaced by a new one when a password is
    configured; without one the bot runs unencrypted and says why.
    """

    async def usable(device: str) -> bool:
        return await device_usable(state, store, user_id, device)

    if not await log_in(client, state, user_id, credentials, usable=usable):
        # Its keys are on the homeserver but no longer here: it cannot encrypt.
        log.error(
            "matrix: the encryption store for device %s is lost and no password is "
            "configured to log in as a new device; encrypted rooms are unavailable",
            client.device_id,
        )
        return Session(encrypted=False, store_lost=True)
    client.restore_login(user_id, client.device_id, client.access_token)
    replaced = await remember_device(state, client.device_id)
    if replaced is not None:
        log.warning("matrix: new device %s (was %s)", client.device_id, replaced)
    await crypto_chores(client)  # publishes the device's keys
    return Session(encrypted=True, new_device=client.device_id if replaced else None)


def device_notice(new_device: str | None, lang: Lang) -> str:
    """What the admins are told when the store was lost: a new device, or encryption off."""
    if new_device is not None:
        return lang.gettext(
            "The bot now uses a new Matrix device, {device}: its encryption store was "
            "lost or replaced. Messages encrypted for the old device cannot be read.",
            device=new_device,
        )
    return lang.gettext(
        "The bot's Matrix encryption store is lost and it cannot log in as a new "
        "device without a password: encrypted rooms are unavailable until then."
    )


async def crypto_chores(client: AsyncClient) -> None:
    """What nio's sync_forever does between syncs: upload keys, query and claim them,
    and send queued to-device messages (key requests, key shares)."""
    with contextlib.suppress(LocalProtocolError):
        if client.should_upload_keys:
            await request(client.keys_upload())
        if client.should_query_keys:
            await request(client.keys_query())
        if client.should_claim_keys:
            await request(client.keys_claim(client.get_users_for_key_claiming()))
        await request(client.send_to_device_messages())


async def adopt_room(client: AsyncClient, room_id: str) -> MatrixRoom:
    """Make nio know a room it has not synced, from the room's full state.

    Not a sync: a sync would also hand over to-device messages (room keys, Olm
    messages) that the sync loop will receive again.
    """
    resp = await request(client.room_get_state(room_id))
    if not isinstance(resp, RoomGetStateResponse):
        raise error_for(resp)
    room = client.rooms.get(room_id) or MatrixRoom(room_id, client.user_id)
    for raw in resp.events:
        event = Event.parse_event(raw)
        if isinstance(event, RoomMemberEvent):
            room.handle_membership(event)
        elif isinstance(event, Event):
            room.handle_event(event)
    room.members_synced = True  # the full state has every member
    client.rooms[room_id] = room
    if room.encrypted:
        client.encrypted_rooms.add(room_id)
        if client.olm is not None:
            client.olm.update_tracked_users(room)
    return room


async def prepare_room(client: AsyncClient, room_id: str) -> None:
    """Everything nio's `room_send` needs before it can encrypt for the room.

    The room key is shared with every member device that is not blacklisted,
    unverified ones included: trust on first use.
    """
    room = client.rooms.get(room_id)
    if room is None:
        room = await adopt_room(client, room_id)
    if client.olm is None or not room.encrypted:
        return
    if not room.members_synced:
        await request(client.joined_members(room_id))
    with contextlib.suppress(LocalProtocolError):  # another task got there first
        if client.should_query_keys:
            await request(client.keys_query())
    if not client.olm.should_share_group_session(room_id):
        return
    sharing = client.sharing_session.get(room_id)
    if sharing is not None:  # another send is sharing the key: wait for it (bounded)
        await asyncio.wait_for(sharing.wait(), timeout=SHARE_WAIT)
        return
    with contextlib.suppress(LocalProtocolError):
        await request(client.share_group_session(room_id, ignore_unverified_devices=True))


class Undecryptable:
    """Events the bot could not decrypt yet: each logged once and its key requested once,
    kept (a bounded number) until the key arrives."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, tuple[MegolmEvent, MatrixRoom]] = OrderedDict()
        self._requested: set[str] = set()

    def __len__(self) -> int:
        return len(self._pending)

    async def note(self, client: AsyncClient, event: MegolmEvent, room: MatrixRoom) -> None:
        """Remember `event`; log it (its id only) and ask for its key the first time."""
        if event.event_id in self._pending:
            return
        log.warning("matrix: cannot decrypt event %s yet; asked for its key", event.event_id)
        self._pending[event.event_id] = (event, room)
        while len(self._pending) > PENDING_KEEP:
            self._pending.popitem(last=False)
        if event.session_id in self._requested:
            return
        self._requested.add(event.session_id or "")
        try:
            # To the sender's devices (nio's request_room_key asks only our own devices).
            message = event.as_key_request(event.sender, client.device_id)
            await request(client.to_device(message))
        except Exception as exc:  # a key request is a nicety: the event stays pending
            log.warning("matrix: could not request a room key: %s", type(exc).__name__)

    def decrypt_pending(self, client: AsyncClient) -> list[tuple[Any, MatrixRoom]]:
        """The pending events whose keys have arrived since, decrypted, oldest first."""
        done: list[tuple[Any, MatrixRoom]] = []
        for event_id, (event, room) in list(self._pending.items()):
            try:
                decrypted = client.decrypt_event(event)
            except EncryptionError:
                continue
            del self._pending[event_id]
            log.info("matrix: decrypted event %s after its key arrived", event_id)
            done.append((decrypted, room))
        return done


async def upload_encrypted_png(client: AsyncClient, png: bytes) -> dict[str, Any]:
    """Upload a PNG encrypted (for an encrypted room); the `file` object of an `m.image`."""
    resp, keys = await request(
        client.upload(
            io.BytesIO(png),
            content_type="application/octet-stream",
            filename="card.png",
            encrypt=True,
            filesize=len(png),
        )
    )
    if not isinstance(resp, UploadResponse) or not keys:
        raise error_for(resp)
    return {"url": str(resp.content_uri), "mimetype": "image/png", **keys}
