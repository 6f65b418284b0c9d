"""The sections about where the bot runs and talks: `[bot]`, `[storage]`, `[instance]`,
the platforms (`[console]`, `[telegram]`, `[matrix]`), `[[channels]]`, `[[feeds]]`
and `[admins]`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
)

from bot.config.fields import (
    Duration,
    HttpUrl,
    LanguageCode,
    MatrixUserId,
    Section,
    Slug,
    environ_of,
    matrix_user_id,
    require_env_if_enabled,
)
from bot.i18n import DEFAULT_LANGUAGE


class BotSection(Section):
    name: str = "Outreach bot"
    welcome: str = "I post our new articles, take donations for our campaigns and report progress."
    commands_per_minute: int = Field(default=20, ge=1, le=1000)
    # Who has chosen nothing, and whose chat app tells nothing, reads this language.
    language: LanguageCode = DEFAULT_LANGUAGE
    # Where the Donate button under a channel post leads: a private chat with the bot
    # ("chat", a deep link) or the campaign's web page ("web", needs [web] public_url).
    donate_button: Literal["chat", "web"] = "chat"
    # How long posts wait for a paused channel (rights taken away, not visible) before
    # they are given up: the admins have this long to give the bot its rights back.
    paused_retention: Duration = Field(default=3 * 86400.0, gt=0)


class StorageSection(Section):
    # SQLite (one machine): the database file. Ignored when `url` is set.
    path: str = "outreach.sqlite3"
    # PostgreSQL (one or several instances): "postgresql://user@host:5432/dbname".
    url: str | None = None
    # The environment variable holding the PostgreSQL password (else libpq's PGPASSWORD
    # or ~/.pgpass).
    password_env: str | None = None
    # Seconds a standby instance may take to pick up a role its holder dropped.
    lease: float = Field(default=10.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql://")
        return value


class InstanceSection(Section):
    # This process among several on one PostgreSQL database (default: host name and pid).
    name: str | None = Field(default=None, min_length=1, max_length=100)


class ConsoleSection(Section):
    enabled: bool = False
    user: str = "you"


# Telegram's alphabet for a webhook's secret token (setWebhook refuses any other).
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramSection(Section):
    enabled: bool = False
    token_env: str = "TELEGRAM_BOT_TOKEN"
    api_base: HttpUrl = "https://api.telegram.org/bot"
    delivery: Literal["at_most_once", "at_least_once"] = "at_most_once"
    # Paid broadcasts: fan-out sends carry allow_paid_broadcast and go out at up to
    # `paid_rate` messages a second (Telegram charges Stars above the free 30/s);
    # the per-chat limits stay. Replies never use it.
    paid_broadcast: bool = False
    paid_rate: float = Field(default=1000.0, gt=0, le=1000)
    webhook_url: HttpUrl | None = None
    webhook_listen: str = "127.0.0.1:8443"
    webhook_secret_env: str | None = None
    # The bot's @username without the @, for `outreach-bot links` (else asked with getMe).
    username: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{3,31}$")

    _check_token = field_validator("token_env")(require_env_if_enabled)

    @field_validator("webhook_secret_env")
    @classmethod
    def _webhook_secret(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A webhook needs a secret (else anyone can post updates), in Telegram's alphabet."""
        if info.data.get("webhook_url") and not value:
            raise ValueError(
                "required when webhook_url is set: without a secret token anyone who finds "
                "the URL can post forged updates (name the environment variable holding it)"
            )
        value = require_env_if_enabled(value, info)
        secret = environ_of(info).get(value) if value and info.data.get("enabled") else None
        if secret and not WEBHOOK_SECRET.fullmatch(secret):
            raise ValueError(
                f"environment variable {value} must hold 1-256 characters of "
                "A-Z a-z 0-9 _ - (Telegram refuses any other secret token)"
            )
        return value


class MatrixSection(Section):
    enabled: bool = False
    homeserver: HttpUrl = "https://matrix.example.org"
    user_id: str = "@outreach:example.org"
    # password_env comes first: the token is optional when a password is given.
    password_env: str | None = None
    access_token_env: str | None = "MATRIX_ACCESS_TOKEN"
    device_id_env: str | None = None
    rate: float = Field(default=0.2, gt=0)
    burst: int = Field(default=10, ge=1)
    exempt: bool = False
    # The end-to-end encryption store (device keys and sessions); None: beside the database.
    store_path: str | None = None
    # Servers whose users may invite the bot into a room. Empty: the bot's own server and
    # the configured rooms' servers; ["*"]: any server.
    allowed_servers: list[str] = Field(default_factory=list)
    max_rooms: int = Field(default=200, ge=1)

    _check_secrets = field_validator("device_id_env", "password_env")(require_env_if_enabled)

    @field_validator("access_token_env")
    @classmethod
    def _token_or_password(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("password_env") and not (value and environ_of(info).get(value)):
            return value  # logs in with the password once, then keeps the token
        return require_env_if_enabled(value, info)

    @field_validator("user_id")
    @classmethod
    def _mxid(cls, value: str) -> str:
        return matrix_user_id(value)


class ChannelEntry(Section):
    name: Slug
    platform: Literal["telegram", "matrix", "console"]
    chat: str = Field(min_length=1)
    # Everything posted to the channel is in this language ([bot] language when unset).
    language: LanguageCode | None = None


class FeedEntry(Section):
    name: Slug
    url: HttpUrl
    channels: list[str] = []
    interval: Annotated[Duration, Field(ge=60)] = 600.0
    backfill: int = Field(default=1, ge=0, le=20)
    include: list[str] = []
    exclude: list[str] = []
    topics: dict[str, str] = {}
    allow_private: bool = False
    edit_on_update: bool = False
    # Every article of this feed carries this campaign's Donate button.
    campaign: Slug | None = None
    # How often to poll as a safety net while the feed's WebSub hub pushes new articles.
    interval_with_push: Annotated[Duration, Field(ge=60)] = 3600.0


class AdminsSection(Section):
    telegram: list[int] = []
    matrix: list[MatrixUserId] = []
    console: list[str] = []
