"""Field types every section uses (durations, URLs, slugs, Matrix ids, languages),
the error that lists every problem, and the strict `Section` base.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
)

from bot.i18n import supported_languages


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


def matrix_user_id(value: str) -> str:
    if not re.match(r"^@[^:\s]+:\S+$", value):
        raise ValueError(f"{value!r} is not a full Matrix user id like @bot:example.org")
    return value


MatrixUserId = Annotated[str, AfterValidator(matrix_user_id)]


def _known_language(value: str) -> str:
    """A language the bot ships a catalogue for (bot/locales/<code>)."""
    supported = supported_languages()
    if value not in supported:
        raise ValueError(f"unknown language {value!r} (supported: {', '.join(supported)})")
    return value


LanguageCode = Annotated[str, AfterValidator(_known_language)]


def environ_of(info: ValidationInfo) -> Mapping[str, str]:
    context = info.context if isinstance(info.context, dict) else {}
    environ = context.get("environ")
    return environ if environ is not None else os.environ


def require_env_if_enabled(value: str | None, info: ValidationInfo) -> str | None:
    """An enabled section's secret must be present in the environment."""
    if value and info.data.get("enabled") and not environ_of(info).get(value):
        raise ValueError(f"environment variable {value} is not set")
    return value


class Section(BaseModel):
    # validate_default: a default `_env` name must still be checked against the environment.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
