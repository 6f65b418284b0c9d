"""The bot's configuration: TOML validated into typed, frozen objects.

Structural problems (types, unknown keys, bad URLs, unset environment
variables) are all reported at once by pydantic; cross-references between
sections (a feed naming an unknown channel) are checked afterwards, also all
at once. Secrets never appear in the file: keys ending in `_env` name the
environment variable that holds them.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.donations.money import exponent as currency_exponent
from bot.donations.money import payable_problem, to_minor
from bot.i18n import DEFAULT_LANGUAGE, supported_languages
from bot.storage.opener import StorageTarget


class ConfigError(Exception):
    """The configuration has problems; `problems` lists every one with its key path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: {len(problems)} problem(s):\n" + "\n".join(problems))
        self.source = source
        self.problems = problems


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http(s) URL")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds or a string such as "90s", "10m", "1h"."""
    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise ValueError('not a duration (use seconds or a string like "90s", "10m", "1h")')


Duration = Annotated[float, BeforeValidator(parse_duration)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


def _matrix_user_id(value: str) -> str:
    if not re.match(r"^@[^:\s]+:\S+$", value):
        raise ValueError(f"{value!r} is not a full Matrix user id like @bot:example.org")
    return value


MatrixUserId = Annotated[str, AfterValidator(_matrix_user_id)]


def _known_language(value: str) -> str:
    """A language the bot ships a catalogue for (bot/locales/<code>)."""
    supported = supported_languages()
    if value not in supported:
        raise ValueError(f"unknown language {value!r} (supported: {', '.join(supported)})")
    return value


LanguageCode = Annotated[str, AfterValidator(_known_language)]


def _environ(info: ValidationInfo) -> Mapping[str, str]:
    context = info.context if isinstance(info.context, dict) else {}
    environ = context.get("environ")
    return environ if environ is not None else os.environ


def _require_env_if_enabled(value: str | None, info: ValidationInfo) -> str | None:
    """An enabled section's secret must be present in the environment."""
    if value and info.data.get("enabled") and not _environ(info).get(value):
        raise ValueError(f"environment variable {value} is not set")
    return value


class Section(BaseModel):
    # validate_default: a default `_env` name must still be checked against the environment.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


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
    webhook_url: HttpUrl | None = None
    webhook_listen: str = "127.0.0.1:8443"
    webhook_secret_env: str | None = None
    # The bot's @username without the @, for `outreach-bot links` (else asked with getMe).
    username: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{3,31}$")

    _check_token = field_validator("token_env")(_require_env_if_enabled)

    @field_validator("webhook_secret_env")
    @classmethod
    def _webhook_secret(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A webhook needs a secret (else anyone can post updates), in Telegram's alphabet."""
        if info.data.get("webhook_url") and not value:
            raise ValueError(
                "required when webhook_url is set: without a secret token anyone who finds "
                "the URL can post forged updates (name the environment variable holding it)"
            )
        value = _require_env_if_enabled(value, info)
        secret = _environ(info).get(value) if value and info.data.get("enabled") else None
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

    _check_secrets = field_validator("device_id_env", "password_env")(_require_env_if_enabled)

    @field_validator("access_token_env")
    @classmethod
    def _token_or_password(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("password_env") and not (value and _environ(info).get(value)):
            return value  # logs in with the password once, then keeps the token
        return _require_env_if_enabled(value, info)

    @field_validator("user_id")
    @classmethod
    def _mxid(cls, value: str) -> str:
        return _matrix_user_id(value)


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


# What people read of a campaign can be translated; the earmark (the treasurer's key,
# sent with every payment) and the figures cannot.
TRANSLATABLE_CAMPAIGN_FIELDS = ("title", "description")


class CampaignText(Section):
    """`[campaigns.translations.<lang>]`: the campaign's title and description in one language."""

    title: str | None = Field(default=None, min_length=1)
    description: str | None = None


class CampaignEntry(Section):
    id: Slug
    title: str = Field(min_length=1)
    earmark: str = Field(min_length=1, max_length=200)
    description: str = ""
    goal: Decimal = Field(gt=0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    amounts: list[Decimal] = [Decimal(10), Decimal(25), Decimal(50), Decimal(100)]
    highlight: Decimal | None = Decimal(50)
    custom_amount: bool = True
    deadline: date | None = None
    active: bool = True
    # Articles whose title or categories contain one of these (whole words, any case)
    # carry this campaign's Donate button; `progress_on_posts` adds its figures.
    match: list[Annotated[str, Field(min_length=1)]] = []
    progress_on_posts: bool = False
    channels: list[str] = []
    provider: Literal["stripe", "static"] = "static"
    milestones: list[Annotated[int, Field(ge=1, le=1000)]] = [25, 50, 75, 100]
    # Monthly giving: fixed amounts only (Stripe has no donor-chosen recurring price).
    monthly: bool = False
    monthly_amounts: list[Decimal] = [Decimal(5), Decimal(10), Decimal(25)]
    translations: dict[LanguageCode, CampaignText] = {}

    def title_in(self, language: str) -> str:
        """The title in `language` when translated, else the configured one."""
        text = self.translations.get(language)
        return text.title if text and text.title else self.title

    def description_in(self, language: str) -> str:
        """The description in `language` when translated, else the configured one."""
        text = self.translations.get(language)
        return text.description if text and text.description else self.description

    @field_validator("amounts", "monthly_amounts")
    @classmethod
    def _positive(cls, value: list[Decimal]) -> list[Decimal]:
        if any(a <= 0 for a in value):
            raise ValueError("every suggested amount must be greater than 0")
        return value

    @model_validator(mode="after")
    def _exact_in_currency(self) -> CampaignEntry:
        """Amounts must be whole minor units of the currency (no 10.5 JPY, no 1.005 USD)."""
        for amount in [self.goal, *self.amounts, *self.monthly_amounts]:
            try:
                to_minor(amount, self.currency)
            except ValueError:
                places = currency_exponent(self.currency)
                raise ValueError(
                    f"{amount} {self.currency}: {self.currency} amounts have "
                    + (f"at most {places} decimals" if places else "no decimals")
                ) from None
        return self


class StripeSection(Section):
    secret_key_env: str = "STRIPE_SECRET_KEY"
    # Optional: without it in the environment, payments are read from Stripe's event list.
    webhook_secret_env: str = "STRIPE_WEBHOOK_SECRET"
    api_base: HttpUrl = "https://api.stripe.com"
    success_url: HttpUrl = "https://example.org/thank-you"
    cancel_url: HttpUrl = "https://example.org/donate"
    max_network_retries: int = Field(default=2, ge=0, le=5)
    timeout: Annotated[Duration, Field(gt=0, le=120)] = 20.0
    reconcile_interval: Annotated[Duration, Field(ge=10)] = 60.0
    # With a webhook secret: how often to read the events Stripe failed to deliver.
    catch_up: Annotated[Duration, Field(ge=60)] = 3600.0
    # Stripe's no-code customer portal login link, shown to monthly donors (cancelling).
    portal_url: HttpUrl | Literal[""] = ""


class DonationsSection(Section):
    static_url: str = ""
    # A monthly giving page of a non-Stripe provider; without it, static campaigns
    # offer no monthly option.
    static_monthly_url: str = ""

    @field_validator("static_url", "static_monthly_url")
    @classmethod
    def _template(cls, value: str) -> str:
        if not value:
            return value
        _http_url(value)
        known = {"campaign", "amount", "currency", "earmark"}
        unknown = set(re.findall(r"{([^}]*)}", value)) - known
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)}; "
                "use {campaign}, {amount}, {currency}, {earmark}"
            )
        return value


def _origin(value: str) -> str:
    """ "*" or a scheme://host[:port] origin, as CSP frame-ancestors takes it."""
    if value == "*":
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise ValueError(f"{value!r} is not an origin like https://example.org (or *)")
    if parts.query or parts.fragment or any(ch in value for ch in " ;,'\""):
        raise ValueError(f"{value!r} is not an origin like https://example.org (or *)")
    return f"{parts.scheme}://{parts.netloc}"


class WebSection(Section):
    # The server runs when enabled, or when a Stripe webhook secret is set (it hosts the webhook).
    enabled: bool = False
    listen: str = "127.0.0.1:8080"
    # The address the world sees (behind the TLS proxy); chat replies link to campaign pages here.
    public_url: HttpUrl | None = None
    pages: bool = True
    # Sites allowed to show the widget in an iframe (CSP frame-ancestors); "*" is any.
    embed_origins: list[Annotated[str, AfterValidator(_origin)]] = ["*"]
    donate_per_minute: int = Field(default=10, ge=1, le=10_000)
    heartbeat: Annotated[Duration, Field(gt=0, le=300)] = 15.0
    # Behind a reverse proxy every request comes from the proxy: take the client's address
    # from the last X-Forwarded-For entry instead (only if the proxy sets it).
    trust_forwarded: bool = False

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        # Port 0 binds any free port (the server logs the one it got); tests use it.
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError("not HOST:PORT")
        return value


class AdminsSection(Section):
    telegram: list[int] = []
    matrix: list[MatrixUserId] = []
    console: list[str] = []


class Config(Section):
    bot: BotSection = BotSection()
    storage: StorageSection = StorageSection()
    instance: InstanceSection = InstanceSection()
    console: ConsoleSection = ConsoleSection()
    telegram: TelegramSection = TelegramSection()
    matrix: MatrixSection = MatrixSection()
    channels: list[ChannelEntry] = []
    feeds: list[FeedEntry] = []
    campaigns: list[CampaignEntry] = []
    stripe: StripeSection = StripeSection()
    donations: DonationsSection = DonationsSection()
    web: WebSection = WebSection()
    admins: AdminsSection = AdminsSection()
    base_dir: Path = Path()

    def enabled_platforms(self) -> list[str]:
        sections: dict[str, ConsoleSection | TelegramSection | MatrixSection] = {
            "console": self.console,
            "telegram": self.telegram,
            "matrix": self.matrix,
        }
        return [name for name, section in sections.items() if section.enabled]

    def channel_language(self, channel: ChannelEntry) -> str:
        """The language of everything posted to `channel`."""
        return channel.language or self.bot.language

    def database_path(self) -> Path:
        path = Path(self.storage.path).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def storage_target(self, environ: Mapping[str, str] | None = None) -> StorageTarget:
        """The configured database: PostgreSQL when `[storage] url` is set, else SQLite."""
        environ = os.environ if environ is None else environ
        name = self.storage.password_env
        password = (environ.get(name) or None) if name else None
        return StorageTarget(
            self.database_path(), self.storage.url, password, instance=self.instance_name()
        )

    def instance_name(self) -> str:
        """This instance's name: `[instance] name`, else host name and process id."""
        return self.instance.name or f"{socket.gethostname()}:{os.getpid()}"

    def secrets(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """Values of every secret the config names, so logs can redact them."""
        environ = os.environ if environ is None else environ
        names = [
            self.telegram.token_env,
            self.telegram.webhook_secret_env,
            self.matrix.access_token_env,
            self.matrix.password_env,
            self.stripe.secret_key_env,
            self.stripe.webhook_secret_env,
            self.storage.password_env,
        ]
        return [environ[n] for n in names if n and environ.get(n)]


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for a bad dict key: the key is the part before
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


_MESSAGES = {
    "extra_forbidden": "unknown key (check the spelling; config.example.toml lists every key)",
    "missing": "required key is missing",
}


def _untranslatable(loc: tuple[int | str, ...]) -> str | None:
    """The message for a `[campaigns.translations.<lang>]` key that is not translatable text."""
    if len(loc) < 3 or loc[-3] != "translations":
        return None
    allowed = ", ".join(TRANSLATABLE_CAMPAIGN_FIELDS)
    note = "; the earmark stays one fixed string" if loc[-1] == "earmark" else ""
    return f"not a translatable campaign field (translatable: {allowed}){note}"


def _structural_problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        message = _MESSAGES.get(item["type"], item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = _untranslatable(item["loc"]) or message
        problems.append(f"{_key_path(item['loc'])}: {message}")
    return problems


def _several_instances_on_matrix(cfg: Config) -> list[str]:
    """On PostgreSQL every instance is a Matrix device of its own, with its own key store."""
    problems = []
    if not cfg.matrix.password_env:
        problems.append(
            "matrix.password_env: required with [storage] url (several instances): each "
            "instance logs in as a device of its own, and one access token cannot serve two "
            "devices"
        )
    if not cfg.instance.name:
        problems.append(
            "instance.name: required with [storage] url and Matrix: each instance keeps its "
            "Matrix device and key store under its name, which must stay the same across restarts"
        )
    return problems


def _cross_reference_problems(cfg: Config, environ: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    enabled = set(cfg.enabled_platforms())

    def unique(kind: str, names: list[str]) -> None:
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                problems.append(f"{kind}[{i}]: duplicate name {name!r}")
            seen.add(name)

    unique("channels", [c.name for c in cfg.channels])
    unique("feeds", [f.name for f in cfg.feeds])
    unique("campaigns", [c.id for c in cfg.campaigns])
    channel_names = {c.name for c in cfg.channels}
    for i, channel in enumerate(cfg.channels):
        if channel.platform not in enabled:
            problems.append(
                f"channels[{i}].platform: {channel.platform} is not enabled "
                f"(set [{channel.platform}] enabled = true)"
            )
    references = (
        ("feeds", [f.channels for f in cfg.feeds]),
        ("campaigns", [c.channels for c in cfg.campaigns]),
    )
    for kind, channel_lists in references:
        for i, names in enumerate(channel_lists):
            for j, name in enumerate(names):
                if name not in channel_names:
                    problems.append(f"{kind}[{i}].channels[{j}]: no channel named {name!r}")
    if any(c.provider == "static" for c in cfg.campaigns) and not cfg.donations.static_url:
        problems.append('donations.static_url: required when a campaign uses provider = "static"')
    if any(c.provider == "stripe" for c in cfg.campaigns):
        # The webhook secret is optional: without it the bot polls Stripe's event list.
        name = cfg.stripe.secret_key_env
        if not environ.get(name):
            problems.append(f"stripe.secret_key_env: environment variable {name} is not set")
    if cfg.storage.url and "matrix" in enabled:
        problems += _several_instances_on_matrix(cfg)
    for i, campaign in enumerate(cfg.campaigns):
        if campaign.highlight is not None and campaign.highlight not in campaign.amounts:
            problems.append(f"campaigns[{i}].highlight: {campaign.highlight} is not in amounts")
    return problems + _unpayable_amounts(cfg)


def _unpayable_amounts(cfg: Config) -> list[str]:
    """Suggested amounts Stripe would refuse to charge (below the minimum, KWD 1.234)."""
    problems = []
    for i, campaign in enumerate(cfg.campaigns):
        for key in ("amounts", "monthly_amounts"):
            if key == "monthly_amounts" and not campaign.monthly:
                continue
            for j, amount in enumerate(getattr(campaign, key)):
                problem = payable_problem(to_minor(amount, campaign.currency), campaign.currency)
                if problem:
                    problems.append(
                        f"campaigns[{i}].{key}[{j}]: {amount} {campaign.currency}: {problem}"
                    )
        if campaign.monthly and not campaign.monthly_amounts:
            problems.append(f"campaigns[{i}].monthly_amounts: monthly giving needs an amount")
    return problems


def _appeal_problems(cfg: Config) -> list[str]:
    """Feeds naming an unknown campaign; web Donate buttons without a page to open."""
    problems = []
    campaigns = {c.id for c in cfg.campaigns}
    for i, feed in enumerate(cfg.feeds):
        if feed.campaign is not None and feed.campaign not in campaigns:
            problems.append(f"feeds[{i}].campaign: no campaign with id {feed.campaign!r}")
    if cfg.bot.donate_button == "web" and not (cfg.web.public_url and cfg.web.pages):
        problems.append(
            'bot.donate_button: "web" needs the campaign pages: set [web] public_url '
            "(and leave [web] pages on)"
        )
    return problems


def parse_config(
    data: dict[str, Any],
    *,
    source: str = "config",
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Validate a parsed TOML document; raise ConfigError listing every problem."""
    environ = os.environ if environ is None else environ
    if "base_dir" in data:
        raise ConfigError(source, ["base_dir: unknown key (check the spelling)"])
    payload = {**data, "base_dir": base_dir or Path.cwd()}
    try:
        cfg = Config.model_validate(payload, context={"environ": environ})
    except ValidationError as exc:
        raise ConfigError(source, _structural_problems(exc)) from None
    problems = _cross_reference_problems(cfg, environ) + _appeal_problems(cfg)
    if problems:
        raise ConfigError(source, problems)
    return cfg


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a TOML config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    return parse_config(data, source=str(path), base_dir=path.resolve().parent, environ=environ)
