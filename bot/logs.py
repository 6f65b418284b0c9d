"""Logging set-up: one line per event on stderr, with secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

# Shapes of secrets we may meet even when we were not told their values.
_SECRET_SHAPES = re.compile(
    r"\d{6,12}:[A-Za-z0-9_-]{30,}"  # Telegram bot token
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}"  # Stripe keys
    r"|whsec_[A-Za-z0-9]{8,}"  # Stripe webhook secret
    r"|syt_[A-Za-z0-9_]{10,}"  # Synapse access token
)

# Chatty libraries: httpx logs request URLs, and Telegram's URLs contain the token.
_QUIET = (
    "httpx",
    "httpcore",
    "telegram.ext.Updater",
    "apscheduler",
    "nio.rooms",
    "nio.responses",
    "stripe",  # logs every request at INFO and response bodies (donor data) at DEBUG
)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then removes known secret values and secret-shaped strings."""

    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted(
            {*self.secrets, *(s for s in secrets if len(s) >= 6)}, key=len, reverse=True
        )

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return _SECRET_SHAPES.sub("[redacted]", text)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def setup_logging(level: str, secrets: Iterable[str] = ()) -> RedactingFormatter:
    """Send every log line to stderr through the redacting formatter."""
    formatter = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    return formatter
