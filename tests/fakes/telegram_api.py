"""The Telegram Bot API stand-in under its first name; it lives in `tests.fakes.telegram`."""

from tests.fakes.telegram import (
    ALLOWED_TAGS,
    CAPTION_MAX,
    TEXT_MAX,
    ApiError,
    EntityError,
    ShownMessage,
    Stats,
    StrictLimits,
    TelegramApi,
    parse_html,
    telegram_api,
    utf16_len,
)

__all__ = [
    "ALLOWED_TAGS",
    "CAPTION_MAX",
    "TEXT_MAX",
    "ApiError",
    "EntityError",
    "ShownMessage",
    "Stats",
    "StrictLimits",
    "TelegramApi",
    "parse_html",
    "telegram_api",
    "utf16_len",
]
