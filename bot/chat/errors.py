"""Neutral delivery errors. Adapters translate platform errors into these."""

from __future__ import annotations


class ChatError(Exception):
    """Base of every error an adapter raises for a send or an edit."""


class RateLimited(ChatError):
    """The platform asked us to wait `retry_after` seconds before the next request."""

    def __init__(self, retry_after: float, message: str = "") -> None:
        super().__init__(message or f"rate limited, retry after {retry_after:.1f}s")
        self.retry_after = retry_after


class ChatGone(ChatError):
    """The chat no longer takes our messages (blocked, kicked, not found): deactivate it."""


class Transient(ChatError):
    """A failure before the request reached the platform; safe to retry."""


class MaybeDelivered(ChatError):
    """The request may have reached the platform (e.g. a read timeout after sending)."""


class Rejected(ChatError):
    """A permanent refusal (a 4xx other than the above); retrying will not help."""


class ChatMoved(ChatError):
    """The chat lives under a new id now (a Telegram group became a supergroup).

    Raised when the adapter could not follow by itself (an edit of a message left
    behind in the old chat); the outbox moves the chat's rows to `new_id`.
    """

    def __init__(self, new_id: str, message: str = "") -> None:
        super().__init__(message or "the chat moved to a new id")
        self.new_id = new_id


class CannotPostNow(ChatError):
    """An ambiguous refusal: the bot may not post there now (rights taken away, chat
    not visible), but may again later. Pause the chat and keep its rows; never treat
    it as gone for good."""
