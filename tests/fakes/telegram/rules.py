"""What Telegram refuses, as pure checks raising `ApiError` with Telegram's own wording.

Kept apart from the server so each rule reads on its own: flood windows,
inline keyboards, command menus, webhook secrets and what the bot's membership
in a chat lets it do.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

CALLBACK_DATA_MAX = 64  # bytes of UTF-8
COMMAND = re.compile(r"[a-z0-9_]{1,32}")
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
SECRET_TOKEN_MAX = 256
DESCRIPTION_MAX = 256
COMMANDS_MAX = 100
# Calls Telegram counts against its flood limits (every call that acts in a chat;
# answerCallbackQuery is not counted).
RATED_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
        "pinChatMessage",
    }
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """A Bot API error answer: `{"ok": false, "error_code", "description", "parameters"}`."""

    def __init__(self, code: int, description: str, **parameters: int) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


@dataclass
class StrictLimits:
    """Rolling windows: overall per second, per chat per second, per group/channel per minute."""

    overall_per_second: int = 30
    per_chat_per_second: int = 1
    per_group_per_minute: int = 20
    # Sends with allow_paid_broadcast: up to this many a second overall (paid in Stars).
    paid_per_second: int = 1000


class FloodWindows:
    """Telegram's flood limits as rolling windows over every rated call."""

    def __init__(self, limits: StrictLimits) -> None:
        self.limits = limits
        self._times: dict[str, deque[float]] = {}

    def take(self, chat: dict[str, Any], *, paid: bool = False) -> None:
        """Count one call in `chat`, or raise 429 with `retry_after` if a window is full.

        A paid broadcast counts in the same overall window, against the paid limit.
        """
        now = time.monotonic()
        overall = self.limits.paid_per_second if paid else self.limits.overall_per_second
        windows = [
            ("all", 1.0, overall),
            (f"chat:{chat['id']}", 1.0, self.limits.per_chat_per_second),
        ]
        if chat["type"] != "private":
            windows.append((f"group:{chat['id']}", 60.0, self.limits.per_group_per_minute))
        for key, span, most in windows:
            times = self._times.setdefault(key, deque())
            while times and now - times[0] >= span:
                times.popleft()
            if len(times) >= most:
                wait = max(1, math.ceil(times[0] + span - now))
                raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        for key, _, _ in windows:
            self._times[key].append(now)


def check_keyboard(markup: Any) -> list[list[dict[str, Any]]]:
    """The inline keyboard of a `reply_markup`, checked the way Telegram checks it."""
    if not markup:
        return []
    rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse reply keyboard markup JSON object")
    for button in (b for row in rows for b in row):
        if "callback_data" in button:
            size = len(str(button["callback_data"]).encode())
            if not 1 <= size <= CALLBACK_DATA_MAX:
                raise bad_request("BUTTON_DATA_INVALID")
        elif "url" in button:
            parts = urlsplit(str(button["url"]))
            if parts.scheme not in ("http", "https", "tg") or not (parts.netloc or parts.path):
                raise bad_request("BUTTON_URL_INVALID")
        else:
            raise bad_request(
                "can't parse inline keyboard button: "
                "Text buttons are unallowed in the inline keyboard"
            )
    return rows


def check_commands(commands: Any, language_code: Any) -> list[dict[str, Any]]:
    """A `setMyCommands` list, checked (names, descriptions, count, language code)."""
    if language_code and not re.fullmatch(r"[a-z]{2}", str(language_code)):
        raise bad_request("invalid language code specified")
    listed = list(commands or [])
    if len(listed) > COMMANDS_MAX:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    for entry in listed:
        name, description = str(entry.get("command", "")), str(entry.get("description", ""))
        if not name:
            raise bad_request("command must be non-empty")
        if len(name) > 32:
            raise bad_request("command length must not exceed 32")
        if not COMMAND.fullmatch(name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not description.strip():
            raise bad_request("command description must be non-empty")
        if len(description) > DESCRIPTION_MAX:
            raise bad_request(f"command description length must not exceed {DESCRIPTION_MAX}")
    return listed


def check_secret_token(token: Any) -> str | None:
    """A `setWebhook` secret_token: 1-256 characters of A-Z a-z 0-9 _ - (or none at all)."""
    if token is None or token == "":
        return None
    text = str(token)
    if len(text) > SECRET_TOKEN_MAX:
        raise bad_request("secret token is too long")
    if not SECRET_TOKEN.fullmatch(text):
        raise bad_request("secret token contains unallowed characters")
    return text


def _kind(chat: dict[str, Any]) -> str:
    return {"supergroup": "supergroup chat", "channel": "channel chat"}.get(
        chat["type"], "group chat"
    )


def refuse_unless_present(chat: dict[str, Any], status: str, method: str) -> None:
    """Raise what Telegram answers a bot that may not act in `chat` (by its membership)."""
    private = chat["type"] == "private"
    if status == "kicked":
        if private:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        raise ApiError(403, f"Forbidden: bot was kicked from the {_kind(chat)}")
    if status == "left":
        if private:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        raise ApiError(403, f"Forbidden: bot is not a member of the {_kind(chat)}")
    if status == "member" and chat["type"] == "channel" and method in RATED_METHODS:
        raise bad_request("need administrator rights in the channel chat")
    if status == "restricted":
        what = {
            "sendMessage": "send text messages to the chat",
            "sendPhoto": "send photos to the chat",
            "pinChatMessage": "manage pinned messages in the chat",
        }.get(method)
        if what is not None:
            raise bad_request(f"not enough rights to {what}")
