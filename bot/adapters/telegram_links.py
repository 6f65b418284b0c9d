"""Telegram deep links: `https://t.me/<bot>?start=<payload>` opens a private chat with the
bot, which receives `/start <payload>` once the person presses Start."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what Telegram carries in ?start=


def deep_link_url(username: str, payload: str) -> str:
    """The link that opens a private chat with @`username` sending `/start payload`."""
    if not START_PAYLOAD.fullmatch(payload):
        raise ValueError(f"Telegram cannot carry the start payload {payload!r}")
    return f"https://t.me/{username}?start={payload}"


def start_payload(url: str) -> tuple[str, str] | None:
    """(username, payload) of a t.me deep link, or None when `url` is not one."""
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.netloc != "t.me":
        return None
    values = parse_qs(parts.query).get("start", [])
    username = parts.path.strip("/")
    if len(values) != 1 or not username or not START_PAYLOAD.fullmatch(values[0]):
        return None
    return username, values[0]
