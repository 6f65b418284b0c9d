"""A real Synapse homeserver for the Matrix tests, started from the installed package.

One server per test session, on 127.0.0.1 with a free port, in a temp folder:
SQLite, `bcrypt_rounds: 4`, no federation listener, registration only through
the shared-secret admin API. Every rate limit is relaxed except the message
limit, which keeps Synapse's default (0.2/s, burst 10); test users are exempted
from it one by one (`exempt`), so a test that wants the defaults simply leaves
its bot user alone. (The admin override API only takes whole numbers of
messages per second, so it cannot set 0.2/s itself.)

The admin calls use urllib: they are a handful of local requests, and a blocking
helper works the same from the session fixture and from any test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    RoomCreateResponse,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)

SERVER_NAME = "localhost"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0

# Generous enough never to bite a test; rc_message is deliberately absent (see above).
_RELAXED: dict[str, Any] = {
    "rc_login": {
        "address": {"per_second": 1000, "burst_count": 1000},
        "account": {"per_second": 1000, "burst_count": 1000},
        "failed_attempts": {"per_second": 1000, "burst_count": 1000},
    },
    "rc_registration": {"per_second": 1000, "burst_count": 1000},
    "rc_joins": {
        "local": {"per_second": 1000, "burst_count": 1000},
        "remote": {"per_second": 1000, "burst_count": 1000},
    },
    "rc_joins_per_room": {"per_second": 1000, "burst_count": 1000},
    "rc_invites": {
        "per_room": {"per_second": 1000, "burst_count": 1000},
        "per_user": {"per_second": 1000, "burst_count": 1000},
        "per_issuer": {"per_second": 1000, "burst_count": 1000},
    },
    "rc_room_creation": {"per_second": 1000, "burst_count": 1000},
    "rc_admin_redaction": {"per_second": 1000, "burst_count": 1000},
    "rc_presence": {"per_user": {"per_second": 1000, "burst_count": 1000}},
    "rc_user_directory": {"per_second": 1000, "burst_count": 1000},
}


class SynapseError(Exception):
    """Synapse did not start, or an admin request failed."""


@dataclass(frozen=True, slots=True)
class MatrixUser:
    """A registered account and the session the registration opened."""

    user_id: str
    password: str
    access_token: str
    device_id: str


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _signing_key_line() -> str:
    # signedjson comes with Synapse; writing the key here saves a `--generate-keys` run.
    from signedjson.key import encode_signing_key_base64, generate_signing_key

    key = generate_signing_key("a_test")
    return f"ed25519 a_test {encode_signing_key_base64(key)}\n"


def _log_config(log_file: Path) -> dict[str, Any]:
    return {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(log_file),
                "formatter": "plain",
            }
        },
        "root": {"level": "INFO", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


class Synapse:
    """One Synapse process; `start()` returns when its client API answers."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server_name = SERVER_NAME
        self.shared_secret = secrets.token_hex(16)
        self.log_file = folder / "homeserver.log"
        self.output_file = folder / "homeserver.out"
        self._process: subprocess.Popen[bytes] | None = None
        self._admin: MatrixUser | None = None
        self._names = itertools.count(1)

    # --- lifecycle -----------------------------------------------------------

    def write_config(self) -> Path:
        (self.folder / "signing.key").write_text(_signing_key_line(), encoding="utf-8")
        log_config = self.folder / "log.yaml"
        # JSON is valid YAML, so no YAML writer is needed.
        log_config.write_text(json.dumps(_log_config(self.log_file)), encoding="utf-8")
        config: dict[str, Any] = {
            "server_name": self.server_name,
            "pid_file": str(self.folder / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {
                "name": "sqlite3",
                "args": {"database": str(self.folder / "homeserver.db")},
            },
            "log_config": str(log_config),
            "media_store_path": str(self.folder / "media"),
            "signing_key_path": str(self.folder / "signing.key"),
            "registration_shared_secret": self.shared_secret,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "enable_registration": False,
            "report_stats": False,
            "suppress_key_server_warning": True,
            "trusted_key_servers": [],
            "bcrypt_rounds": 4,
            "enable_metrics": False,
            "url_preview_enabled": False,
            "presence": {"enabled": False},
            **_RELAXED,
        }
        path = self.folder / "homeserver.yaml"
        path.write_text(json.dumps(config, indent=1), encoding="utf-8")
        return path

    def start(self) -> None:
        """Start Synapse and wait (bounded) until it answers; raise with its log if it cannot."""
        config = self.write_config()
        with self.output_file.open("wb") as out:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "--config-path", str(config)],
                cwd=self.folder,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SynapseError(f"Synapse exited with {self._process.returncode}\n{self.tail()}")
            if self._answers():
                try:
                    self._admin = self.register("admin", admin=True)
                except SynapseError as exc:
                    self.stop()
                    raise SynapseError(f"{exc}\n{self.tail()}") from None
                return
            time.sleep(0.1)
        self.stop()
        raise SynapseError(f"Synapse did not answer within {START_TIMEOUT:.0f}s\n{self.tail()}")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_matrix/client/versions", timeout=1) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        """Terminate by pid; kill if it does not exit in time."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)

    def tail(self, lines: int = 40) -> str:
        """The last lines of Synapse's log and console output, for failure messages."""
        text = ""
        for path in (self.output_file, self.log_file):
            with contextlib.suppress(OSError):
                content = path.read_text(encoding="utf-8", errors="replace").splitlines()
                text += f"--- {path.name} ---\n" + "\n".join(content[-lines:]) + "\n"
        return text

    # --- admin API -----------------------------------------------------------

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """One client-server or admin API call; raise SynapseError on an error status."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                result: dict[str, Any] = json.loads(resp.read() or b"{}")
                return result
        except urllib.error.HTTPError as exc:
            raise SynapseError(f"{method} {path}: {exc.code} {exc.read()!r}") from None

    def register(self, localpart: str, *, admin: bool = False) -> MatrixUser:
        """Register through the shared-secret admin API (HMAC over a fresh nonce)."""
        nonce = self.request("GET", "/_synapse/admin/v1/register")["nonce"]
        password = secrets.token_hex(8)
        message = b"\x00".join(
            [
                nonce.encode(),
                localpart.encode(),
                password.encode(),
                b"admin" if admin else b"notadmin",
            ]
        )
        mac = hmac.new(self.shared_secret.encode(), message, hashlib.sha1).hexdigest()
        body = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac,
        }
        result = self.request("POST", "/_synapse/admin/v1/register", body)
        return MatrixUser(result["user_id"], password, result["access_token"], result["device_id"])

    def new_user(self, prefix: str, *, exempt: bool = True) -> MatrixUser:
        """A fresh user with a unique name; exempt from message limits unless told otherwise."""
        user = self.register(f"{prefix}{next(self._names)}_{secrets.token_hex(2)}")
        if exempt:
            self.set_message_limit(user.user_id, 0, 0)
        return user

    def set_message_limit(self, user_id: str, per_second: int, burst: int) -> None:
        """Override one user's limit; 0/0 exempts them from every rate limiter."""
        assert self._admin is not None
        path = f"/_synapse/admin/v1/users/{urllib.parse.quote(user_id)}/override_ratelimit"
        body = {"messages_per_second": per_second, "burst_count": burst}
        self.request("POST", path, body, token=self._admin.access_token)

    def user_devices(self, user: MatrixUser) -> list[str]:
        result = self.request("GET", "/_matrix/client/v3/devices", token=user.access_token)
        return sorted(d["device_id"] for d in result["devices"])


@contextlib.contextmanager
def running_synapse(folder: Path) -> Iterator[Synapse]:
    """Start Synapse in `folder` for the duration of the block."""
    server = Synapse(folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()


class Human:
    """A person on Matrix, played by a second matrix-nio client.

    Keeps every timeline event it has seen, as raw JSON, per room. Use it as an
    async context manager so that its HTTP session is closed.
    """

    def __init__(self, server: Synapse, user: MatrixUser, *, store: Path | None = None) -> None:
        self.user = user
        if store is None:
            self.client = AsyncClient(server.url, user.user_id, user.device_id)
            self.client.user_id = user.user_id
            self.client.access_token = user.access_token
        else:
            # An Element-like person: encrypts, decrypts, and trusts devices on first use.
            store.mkdir(parents=True, exist_ok=True)
            # The sync token is kept with the keys: a second session of the same device
            # must not receive (and fail to decrypt) the first one's to-device messages again.
            config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
            self.client = AsyncClient(
                server.url, user.user_id, user.device_id, store_path=str(store), config=config
            )
            self.client.restore_login(user.user_id, user.device_id, user.access_token)
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.invites: set[str] = set()
        self._since: str | None = self.client.loaded_sync_token or None

    async def __aenter__(self) -> Human:
        if self.client.olm is not None:
            await self._crypto_chores()  # publishes this device's keys
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()

    async def create_room(
        self,
        invite: list[str],
        *,
        name: str | None = "Test room",
        alias: str | None = None,
        initial_state: list[dict[str, Any]] | None = None,
        is_direct: bool = False,
    ) -> str:
        resp = await self.client.room_create(
            name=name,
            alias=alias,
            invite=invite,
            is_direct=is_direct,
            preset=RoomPreset.trusted_private_chat if is_direct else RoomPreset.private_chat,
            initial_state=initial_state or (),
        )
        assert isinstance(resp, RoomCreateResponse), resp
        return str(resp.room_id)

    async def send_text(self, room_id: str, text: str) -> str:
        content = {"msgtype": "m.text", "body": text}
        if self.client.olm is not None:
            await self.wait_until(lambda: room_id in self.client.rooms)
        resp = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        assert isinstance(resp, RoomSendResponse), resp
        return str(resp.event_id)

    async def _crypto_chores(self) -> None:
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())
        await self.client.send_to_device_messages()

    async def sync(self, timeout_ms: int = 300) -> None:
        resp = await self.client.sync(timeout=timeout_ms, since=self._since)
        assert isinstance(resp, SyncResponse), resp
        self._since = resp.next_batch
        for room_id, info in resp.rooms.join.items():
            self.events.setdefault(room_id, []).extend(e.source for e in info.timeline.events)
        self.invites |= set(resp.rooms.invite)
        if self.client.olm is not None:
            await self._crypto_chores()

    def messages(self, room_id: str, *, sender: str | None = None) -> list[dict[str, Any]]:
        """The `m.room.message` events seen in a room, oldest first."""
        return [
            e
            for e in self.events.get(room_id, [])
            if e.get("type") == "m.room.message" and (sender is None or e["sender"] == sender)
        ]

    async def wait_until(self, check: Callable[[], bool], within: float = 15.0) -> None:
        """Sync until `check()` holds; fail after `within` seconds."""
        async with asyncio.timeout(within):
            while not check():
                await self.sync()
