"""Logging set-up and the one secret redactor: nothing the bot logs or raises holds a secret.

Two places redact with `redact`: the formatter of the bot's own stderr handler
(every line, whatever logged it), and `guard_loggers`, a filter on the loggers of
libraries that see secrets (python-telegram-bot logs its API URL, token included,
at DEBUG), which also covers handlers the bot does not own (pytest's caplog).
Adapters call `redact` on platform error messages before raising neutral errors.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

REDACTED = "[redacted]"
# Shorter values are too likely to occur in ordinary text to be worth redacting.
MIN_SECRET = 6
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


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without any of `secrets` and without anything shaped like a known secret.

    Case-insensitive: python-telegram-bot lower-cases most of a "Bad Request: ..."
    description, which may quote a URL holding the token.
    """
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True):
        text = re.sub(re.escape(secret), REDACTED, text, flags=re.IGNORECASE)
    return _SECRET_SHAPES.sub(REDACTED, text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then removes known secret values and secret-shaped strings."""

    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = frozenset(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


class SecretsFilter(logging.Filter):
    """Takes secrets out of the message and traceback of each record of the loggers it guards."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text, self.secrets)
        return True


# One filter for the process: loggers are process-wide, and so are the secrets they may see.
_GUARD = SecretsFilter()


def guard_loggers(prefixes: Iterable[str], secrets: Iterable[str | None]) -> None:
    """Redact `secrets` from every logger under `prefixes` that exists now, and the roots.

    A logger's filter sees only the records logged on that logger, not those of
    its children, hence every existing descendant gets the filter. Call it after
    the library is imported (its loggers exist from then on).
    """
    _GUARD.secrets.update(s for s in secrets if s)
    roots = tuple(prefixes)
    existing = [
        name
        for name in logging.Logger.manager.loggerDict
        if any(name == root or name.startswith(root + ".") for root in roots)
    ]
    for name in {*roots, *existing}:
        logger = logging.getLogger(name)
        if _GUARD not in logger.filters:
            logger.addFilter(_GUARD)


def quiet_below_warning(names: Iterable[str]) -> None:
    """Raise these loggers to WARNING: their INFO and DEBUG lines are never wanted."""
    for name in names:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:  # NOTSET would inherit the root's DEBUG
            logger.setLevel(logging.WARNING)


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
