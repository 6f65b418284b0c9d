"""The chat adapters the config enables, each built from its section.

On PostgreSQL (several instances) each instance is a Matrix device of its own
and only the role holders receive; see `matrix_adapter` and `build_adapters`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TextIO

from bot.adapters.console import ConsoleAdapter
from bot.adapters.matrix import MatrixAdapter
from bot.adapters.matrix_invites import InvitePolicy, default_servers
from bot.adapters.telegram import TELEGRAM_LIMITS, TelegramAdapter
from bot.adapters.telegram_buttons import open_bot_alert
from bot.chat import ChatAdapter, PlatformLimits
from bot.config import Config, TelegramSection
from bot.lifecycle import StartupError
from bot.storage import Database
from bot.storage.postgres import PostgresDatabase
from bot.storage.state import DatabaseStateStore


@dataclass
class ConsoleIO:
    """Where the console adapter reads and writes (the terminal unless a test says otherwise)."""

    stdin: TextIO | None = None
    stdout: TextIO | None = None


def _secret(environ: Mapping[str, str], name: str | None) -> str | None:
    return (environ.get(name) or None) if name else None


def matrix_adapter(config: Config, db: Database, environ: Mapping[str, str]) -> MatrixAdapter:
    """The Matrix adapter. On PostgreSQL each instance is a device of its own: it logs in
    with the password, keeps its token, device id, sync token and key store under its
    name, and syncs while it holds the matrix role (handled events are shared)."""
    m = config.matrix
    several = isinstance(db, PostgresDatabase)
    shared = DatabaseStateStore(db, "matrix.")
    return MatrixAdapter(
        homeserver=m.homeserver,
        user_id=m.user_id,
        state=DatabaseStateStore(db, f"matrix.{config.instance_name()}.") if several else shared,
        # One access token is one device: several instances log in with the password.
        access_token=None if several else _secret(environ, m.access_token_env),
        device_id=None if several else _secret(environ, m.device_id_env),
        password=_secret(environ, m.password_env),
        rooms=[c.chat for c in config.channels if c.platform == "matrix"],
        admins=list(config.admins.matrix),
        invites=matrix_invites(config),
        rate=m.rate,
        burst=m.burst,
        exempt=m.exempt,
        store_path=matrix_store_path(config),
        language=config.bot.language,
        handled_state=shared,
        receive_in_role=several,
    )


def matrix_invites(config: Config) -> InvitePolicy:
    """Whose invites the bot takes: `[matrix] allowed_servers`, by default the bot's own
    server, the configured rooms' servers (from their aliases) and the admins' servers."""
    m = config.matrix
    rooms = [c.chat for c in config.channels if c.platform == "matrix"]
    servers = m.allowed_servers or default_servers(m.user_id, rooms, config.admins.matrix)
    return InvitePolicy(frozenset(s.lower() for s in servers), m.max_rooms)


def matrix_store_path(config: Config) -> Path:
    """`[matrix] store_path` (relative to the config file), else beside the database; with
    `[storage] url` (several instances) a folder of it per instance, named after it."""
    if config.matrix.store_path:
        path = Path(config.matrix.store_path).expanduser()
        path = path if path.is_absolute() else config.base_dir / path
    else:
        path = config.database_path().parent / "matrix-store"
    if config.storage.url:
        return path / _file_name(config.instance_name())
    return path


def _file_name(name: str) -> str:
    """`name` as one path component (an instance name may hold ':' or '/')."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "instance"


def telegram_limits(section: TelegramSection) -> PlatformLimits:
    """Telegram's published limits; paid broadcasts raise the global rate (chats keep theirs)."""
    if not section.paid_broadcast:
        return TELEGRAM_LIMITS
    return replace(TELEGRAM_LIMITS, global_rate=section.paid_rate)


def build_adapters(
    config: Config,
    db: Database,
    *,
    on_eof: Callable[[], None],
    console_io: ConsoleIO,
    environ: Mapping[str, str],
) -> dict[str, ChatAdapter]:
    """One adapter per enabled platform; the console ends the run (`on_eof`) at end of input."""
    adapters: dict[str, ChatAdapter] = {}
    if config.console.enabled:
        adapters["console"] = ConsoleAdapter(
            user=config.console.user,
            on_eof=on_eof,
            stdin=console_io.stdin,
            stdout=console_io.stdout,
        )
    if config.matrix.enabled:
        adapters["matrix"] = matrix_adapter(config, db, environ)
    if config.telegram.enabled:
        t = config.telegram
        adapters["telegram"] = TelegramAdapter(
            token=environ[t.token_env],
            api_base=t.api_base,
            webhook_url=t.webhook_url,
            webhook_listen=t.webhook_listen,
            webhook_secret=_secret(environ, t.webhook_secret_env),
            open_bot_alert=partial(open_bot_alert, default_language=config.bot.language),
            state=DatabaseStateStore(db, "telegram."),
            # Several instances on PostgreSQL: only the telegram role's holder long-polls.
            poll_in_role=isinstance(db, PostgresDatabase),
            limits=telegram_limits(t),
            paid_broadcast=t.paid_broadcast,
        )
    if not adapters:
        raise StartupError("no chat platform is enabled: enable [console], [telegram] or [matrix]")
    return adapters
