"""The bot's configuration: TOML validated into typed, frozen objects.

Structural problems (types, unknown keys, bad URLs, unset environment
variables) are all reported at once by pydantic; cross-references between
sections (a feed naming an unknown channel) are checked afterwards, also all
at once. Secrets never appear in the file: keys ending in `_env` name the
environment variable that holds them.
"""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.config.chat import (
    WEBHOOK_SECRET,
    AdminsSection,
    BotSection,
    ChannelEntry,
    ConsoleSection,
    FeedEntry,
    InstanceSection,
    MatrixSection,
    StorageSection,
    TelegramSection,
)
from bot.config.donations import (
    TRANSLATABLE_CAMPAIGN_FIELDS,
    CampaignEntry,
    CampaignText,
    DonationsSection,
    StripeSection,
    WebSection,
)
from bot.config.fields import (
    ConfigError,
    Duration,
    HttpUrl,
    LanguageCode,
    MatrixUserId,
    Section,
    Slug,
    parse_duration,
)
from bot.donations.money import payable_problem, to_minor
from bot.storage.opener import StorageTarget

__all__ = [
    "TRANSLATABLE_CAMPAIGN_FIELDS",
    "WEBHOOK_SECRET",
    "AdminsSection",
    "BotSection",
    "CampaignEntry",
    "CampaignText",
    "ChannelEntry",
    "Config",
    "ConfigError",
    "ConsoleSection",
    "DonationsSection",
    "Duration",
    "FeedEntry",
    "HttpUrl",
    "InstanceSection",
    "LanguageCode",
    "MatrixSection",
    "MatrixUserId",
    "Section",
    "Slug",
    "StorageSection",
    "StripeSection",
    "TelegramSection",
    "WebSection",
    "load_config",
    "parse_config",
    "parse_duration",
]


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
