"""The matrix-nio client: making it, logging in, closing it, and calls that need no adapter state.

The adapter keeps one client; these functions take it explicitly. The access
token and device id are kept in the adapter's state store: the outbox's
transaction ids only deduplicate re-sends while the device stays the same.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    LoginResponse,
    RoomGetStateEventResponse,
    RoomPutStateResponse,
    UploadResponse,
    WhoamiResponse,
)

from bot.adapters.matrix_map import error_for
from bot.adapters.matrix_render import pinned_content
from bot.chat import ChatError, MaybeDelivered, StateStore, Transient

__all__ = [
    "Credentials",
    "MatrixLoginError",
    "close_client",
    "log_in",
    "new_client",
    "pin_event",
    "request",
    "upload_png",
]

log = logging.getLogger(__name__)
T = TypeVar("T")


class MatrixLoginError(Exception):
    """The bot cannot log in; the message says why (never with the token)."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the config gives to log in with: a token, a device id, a password (any may be None)."""

    access_token: str | None = None
    device_id: str | None = None
    password: str | None = None


async def request(call: Awaitable[T]) -> T:
    """Await a nio call, turning connection problems into `Transient` or `MaybeDelivered`."""
    try:
        return await call
    except aiohttp.ClientConnectorError as exc:
        raise Transient(f"cannot reach the homeserver: {exc.os_error}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise MaybeDelivered(f"the homeserver did not answer: {type(exc).__name__}") from None


def new_client(
    homeserver: str, user_id: str, device_id: str | None, *, store_path: Path | None
) -> AsyncClient:
    """A client that never retries on its own (the outbox and pacer decide); E2E with a store."""
    config = AsyncClientConfig(
        max_limit_exceeded=0,  # a 429 comes straight back: our pacer decides when to retry
        max_timeouts=0,  # and so does the outbox, after a timeout or lost connection
        request_timeout=30,
        encryption_enabled=store_path is not None,
        store_sync_tokens=False,
    )
    if store_path is not None:
        store_path.mkdir(parents=True, exist_ok=True)
    store = str(store_path) if store_path is not None else ""
    return AsyncClient(homeserver, user_id, device_id or "", store_path=store, config=config)


async def close_client(client: AsyncClient) -> None:
    # Not client.close(): nio refuses to close a client that never logged in.
    if client.client_session is not None:
        await client.client_session.close()
        client.client_session = None


async def log_in(
    client: AsyncClient,
    state: StateStore,
    user_id: str,
    credentials: Credentials,
    *,
    usable: Callable[[str], Awaitable[bool]] | None = None,
) -> bool:
    """Log `client` in with the configured or stored token, else the password; keep both ids.

    A configured token wins, then the one a password login stored earlier. The
    stored device id is reused even for a new login, so the device stays the
    same, unless `usable` refuses that device (its encryption store is lost):
    then the password makes a new device. Without a password the refused device
    is used anyway and the result is False (encryption cannot work on it).
    """
    fallback: tuple[str, str] | None = None
    stored = await state.get("access_token")
    for token in dict.fromkeys(t for t in (credentials.access_token, stored) if t):
        whoami = await _whoami(client, token)
        if whoami is None:
            continue
        if whoami.user_id != user_id:
            raise MatrixLoginError(f"the access token belongs to another user, not {user_id}")
        device_id = whoami.device_id or client.device_id
        if not device_id:
            raise MatrixLoginError("the homeserver did not say which device the token belongs to")
        if usable is None or await usable(device_id):
            await _keep(client, state, user_id, device_id, token)
            return True
        fallback = fallback or (device_id, token)
    if credentials.password is not None:
        if fallback is not None:
            client.device_id = ""  # that device's keys are lost: log in as a new one
        resp = await request(
            client.login(password=credentials.password, device_name="outreach-bot")
        )
        if not isinstance(resp, LoginResponse):
            raise MatrixLoginError(f"password login as {user_id} failed: {resp.message}")
        await _keep(client, state, user_id, resp.device_id, resp.access_token)
        return True
    if fallback is None:
        raise MatrixLoginError(f"no valid access token or password for {user_id}")
    await _keep(client, state, user_id, *fallback)
    return False


async def log_in_again(
    client: AsyncClient, state: StateStore, user_id: str, credentials: Credentials
) -> str | None:
    """After the homeserver refused the access token: log in with the password. None when
    that worked, else why the adapter cannot go on."""
    if not credentials.password:
        return "the access token was refused and no password_env is configured"
    try:
        await log_in(client, state, user_id, credentials)
    except (MatrixLoginError, ChatError) as exc:
        return f"the access token was refused and logging in again failed: {exc}"
    log.warning("matrix: the access token was refused; logged in again with the password")
    return None


async def _keep(
    client: AsyncClient, state: StateStore, user_id: str, device_id: str, token: str
) -> None:
    client.user_id, client.device_id, client.access_token = user_id, device_id, token
    await state.set("access_token", token)
    await state.set("device_id", device_id)
    log.info("logged in to Matrix (device %s)", device_id)


async def _whoami(client: AsyncClient, token: str) -> Any:
    """Who the token belongs to, or None when the homeserver no longer accepts it."""
    client.access_token = token
    resp = await request(client.whoami())
    if isinstance(resp, WhoamiResponse):
        return resp
    if resp.status_code != "M_UNKNOWN_TOKEN":
        raise MatrixLoginError(f"checking the access token failed: {resp.message}")
    log.warning("the Matrix access token was refused; trying the password")
    return None


async def upload_png(client: AsyncClient, png: bytes) -> str:
    """Upload a PNG to the media repository; its `mxc://` URI."""
    resp, _ = await request(
        client.upload(
            io.BytesIO(png), content_type="image/png", filename="card.png", filesize=len(png)
        )
    )
    if not isinstance(resp, UploadResponse):
        raise error_for(resp)
    return str(resp.content_uri)


async def pin_event(client: AsyncClient, room_id: str, event_id: str) -> None:
    """Add the event to the room's pinned events, where the bot's power level allows."""
    current = await request(client.room_get_state_event(room_id, "m.room.pinned_events"))
    pinned = current.content if isinstance(current, RoomGetStateEventResponse) else {}
    resp = await request(
        client.room_put_state(room_id, "m.room.pinned_events", pinned_content(pinned, event_id))
    )
    if not isinstance(resp, RoomPutStateResponse):
        log.warning("matrix: could not pin a post: %s", getattr(resp, "status_code", resp))
