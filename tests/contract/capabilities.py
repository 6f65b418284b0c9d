"""What each adapter can do, declared in one place, and the known bugs the suite expects to fail.

The contract tests read `CAPABILITIES` to know what to assert: a capability an
adapter lacks is not skipped, the test asserts the documented fallback instead
(an image shown as a link in the text, a pin that is silently not made, ...).
A new adapter gets a row here and must pass every test against it.

`KNOWN_BUGS` names the (test, adapter) pairs that fail today because of a bug
another issue fixes. They are marked `xfail(strict=True)`, so the fix turns
them into failures until the entry is removed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Support(enum.StrEnum):
    """How a platform shows one feature of a post."""

    NATIVE = "native"  # the platform's own feature (a photo, an inline keyboard, a pin)
    AS_TEXT = "as text"  # written into the post's text (a link, a list of choices)
    ABSENT = "absent"  # not shown at all; the post itself is still delivered, no error


class Error(enum.StrEnum):
    """A neutral error a platform can really produce, and the situation that produces it."""

    GONE = "gone"  # the bot was removed or blocked, or the chat never existed: ChatGone
    RATE_LIMITED = "rate limited"  # the platform asks for a pause: RateLimited(retry_after)
    TRANSIENT = "transient"  # the request did not get through: Transient, safe to resend


class Moved(enum.StrEnum):
    """What the adapter does when a chat moves to a new id."""

    FOLLOWS = "follows"  # a send lands in the new chat; an edit raises ChatMoved(new_id)
    UNNOTICED = "unnoticed"  # the old chat still takes posts; the adapter does not follow
    NEVER = "never"  # chats on this platform never move


@dataclass(frozen=True, slots=True)
class Capabilities:
    """One adapter's row: how it shows each feature and which failures it can produce.

    `text_limit` is the longest post the platform shows, in the unit its
    observer reports as `Shown.size` (UTF-16 units of visible text on
    Telegram, bytes of event content on Matrix, characters on the console).
    `command_sigil` is how the platform spells the start of a command.
    """

    image: Support
    buttons: Support
    replies: Support
    pin: Support
    cut_long_text: Support
    text_limit: int
    command_sigil: str
    same_key_shows_once: bool
    errors: frozenset[Error]
    moved: Moved


CAPABILITIES: dict[str, Capabilities] = {
    # The terminal prints everything it is given: no photos, keyboards, threads or pins,
    # no length limit in practice, and nothing can refuse a print. A closed output ends
    # the session (see test_errors) instead of raising.
    "console": Capabilities(
        image=Support.AS_TEXT,
        buttons=Support.AS_TEXT,
        replies=Support.ABSENT,
        pin=Support.ABSENT,
        cut_long_text=Support.ABSENT,
        text_limit=64_000,
        command_sigil="/",
        same_key_shows_once=False,
        errors=frozenset(),
        moved=Moved.NEVER,
    ),
    # Telegram has no idempotency key: a resend is a second message. The outbox is what
    # keeps Telegram at most once (rows left `sending` become `unknown`, see DESIGN.md).
    "telegram": Capabilities(
        image=Support.NATIVE,
        buttons=Support.NATIVE,
        replies=Support.NATIVE,
        pin=Support.NATIVE,
        cut_long_text=Support.NATIVE,
        text_limit=4096,
        command_sigil="/",
        same_key_shows_once=False,
        errors=frozenset(Error),
        moved=Moved.FOLLOWS,
    ),
    # Matrix shows an image URL as a link and buttons as "reply !command" choices. The key
    # is the transaction id, so the homeserver shows a resend once. An upgraded room
    # (m.room.tombstone) is not followed: the bot's posts keep landing in the old room.
    "matrix": Capabilities(
        image=Support.AS_TEXT,
        buttons=Support.AS_TEXT,
        replies=Support.NATIVE,
        pin=Support.NATIVE,
        cut_long_text=Support.NATIVE,
        text_limit=65_536,  # Synapse's largest event, in bytes
        command_sigil="!",
        same_key_shows_once=True,
        errors=frozenset(Error),
        moved=Moved.UNNOTICED,
    ),
    # The same in an encrypted room; the length is that of the encrypted event's content
    # (base64 Megolm ciphertext), which must fit Synapse's largest event.
    "matrix-e2e": Capabilities(
        image=Support.AS_TEXT,
        buttons=Support.AS_TEXT,
        replies=Support.NATIVE,
        pin=Support.NATIVE,
        cut_long_text=Support.NATIVE,
        text_limit=65_536,  # bytes of the encrypted content, as Synapse stores it
        command_sigil="!",
        same_key_shows_once=True,
        errors=frozenset(Error),
        moved=Moved.UNNOTICED,
    ),
}

# (test function name, adapter) -> the bug, where it is, and the issue that fixes it.
KNOWN_BUGS: dict[tuple[str, str], str] = {}
