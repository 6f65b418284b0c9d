"""Matrix to the neutral model (pure functions, no I/O).

A sync event becomes an `Incoming` (`to_incoming`), an invite a decision to
join or decline (`invite_decision`), and a homeserver error response a neutral
`ChatError` (`error_for`).
"""

from __future__ import annotations

import contextlib
import email.utils
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nio import InviteAliasEvent, InviteMemberEvent, MatrixRoom, RoomMemberEvent, RoomMessageText

from bot.chat.errors import (
    CannotPostNow,
    ChatError,
    ChatGone,
    MaybeDelivered,
    RateLimited,
    Rejected,
    Transient,
)
from bot.chat.model import ChatKind, ChatRef, Incoming, IncomingKind, Sender

PLATFORM = "matrix"
DEFAULT_RETRY_AFTER = 5.0
# Not in the room, banned, not allowed to post, no such room or alias.
_GONE_CODES = frozenset({"M_FORBIDDEN", "M_NOT_FOUND"})
UNKNOWN_TOKEN = "M_UNKNOWN_TOKEN"  # noqa: S105 - an error code, not a secret
# M_FORBIDDEN for a bot that is no longer in the room (left, kicked, banned, never joined).
_NOT_IN_ROOM = re.compile(r"not in (the )?room|not joined|banned|not a member|not invited", re.I)


def chat_kind(room: MatrixRoom) -> ChatKind:
    """PRIVATE for an unnamed room of exactly two members (what clients create for a
    direct message), GROUP for every other room."""
    return ChatKind.PRIVATE if room.joined_count == 2 and not room.is_named else ChatKind.GROUP


def _chat(room: MatrixRoom) -> ChatRef:
    return ChatRef(PLATFORM, room.room_id, chat_kind(room), room.display_name)


def _without_reply_fallback(body: str) -> str:
    # Older clients quote the replied-to message as "> " lines, then a blank line.
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    rest = lines[next((i for i, line in enumerate(lines) if not line.startswith(">")), 0) :]
    return "\n".join(rest).lstrip("\n")


def to_incoming(event: Any, room: MatrixRoom, own_user_id: str) -> Incoming | None:
    """A sync event as an `Incoming`, or None for everything the bot does not act on.

    Text messages from people (not `m.notice`, not edits, not our own) become
    messages with the command left in the text; the bot's own leave or ban
    becomes BOT_REMOVED.
    """
    if isinstance(event, RoomMemberEvent):
        # Not after a declined invite: the bot was never in that room.
        removed = event.membership in ("leave", "ban") and event.prev_membership not in (
            "invite",
            "leave",
            "ban",
        )
        if event.state_key == own_user_id and removed:
            sender = Sender(PLATFORM, event.sender)
            return Incoming(_chat(room), sender, kind=IncomingKind.BOT_REMOVED)
        return None
    if not isinstance(event, RoomMessageText) or event.sender == own_user_id:
        return None
    relation = event.source.get("content", {}).get("m.relates_to") or {}
    if relation.get("rel_type") == "m.replace":
        return None  # an edit of an earlier message: running it again would repeat it
    body = event.body
    if relation.get("m.in_reply_to"):
        body = _without_reply_fallback(body)
    sender = Sender(PLATFORM, event.sender, room.user_name(event.sender) or "")
    return Incoming(_chat(room), sender, body, message_id=event.event_id)


def after_own_join(events: Sequence[Any], own_user_id: str) -> list[Any]:
    """The events after the bot's own (new) join: what came before is history, not ours."""
    start = 0
    for i, event in enumerate(events):
        if (
            isinstance(event, RoomMemberEvent)
            and event.state_key == own_user_id
            and event.membership == "join"
            and event.prev_membership != "join"
        ):
            start = i + 1
    return list(events[start:])


@dataclass(frozen=True, slots=True)
class InviteDecision:
    accept: bool
    reason: str
    inviter: str = ""


def invite_decision(
    invite_state: Sequence[Any],
    room_id: str,
    own_user_id: str,
    configured: set[str],
    admins: frozenset[str],
) -> InviteDecision:
    """Join configured rooms (by id or alias), rooms an admin invites the bot to, and
    direct chats anyone opens with it (private commands such as /subscribe need one)."""
    ours = next(
        (
            e
            for e in invite_state
            if isinstance(e, InviteMemberEvent) and e.state_key == own_user_id
        ),
        None,
    )
    alias = next((e.canonical_alias for e in invite_state if isinstance(e, InviteAliasEvent)), None)
    inviter = ours.sender if ours is not None else ""
    if room_id in configured or (alias is not None and alias in configured):
        return InviteDecision(True, "a configured room", inviter)
    if inviter in admins:
        return InviteDecision(True, "from an admin", inviter)
    if ours is not None and ours.content.get("is_direct"):
        return InviteDecision(True, "a direct chat", inviter)
    return InviteDecision(False, "not configured, not from an admin, not a direct chat", inviter)


def left_alone(events: Sequence[Any], room: MatrixRoom, own_user_id: str) -> bool:
    """Someone left in these events, and now the bot is the room's only member."""
    someone_left = any(
        isinstance(e, RoomMemberEvent)
        and e.state_key != own_user_id
        and e.membership in ("leave", "ban")
        for e in events
    )
    return someone_left and room.joined_count == 1 and room.invited_count == 0


def _retry_after(resp: Any) -> float:
    """Seconds to wait: the Retry-After header first, then `retry_after_ms`.

    nio keeps the aiohttp response on `transport_response`, so the header is
    still readable after nio has parsed the body.
    """
    transport = getattr(resp, "transport_response", None)
    header = transport.headers.get("Retry-After") if transport is not None else None
    if header:
        with contextlib.suppress(ValueError):
            return max(0.0, float(header))
        with contextlib.suppress(TypeError, ValueError):
            moment = email.utils.parsedate_to_datetime(header)
            return max(0.0, moment.timestamp() - time.time())
    if getattr(resp, "retry_after_ms", None):
        return float(resp.retry_after_ms) / 1000
    return DEFAULT_RETRY_AFTER


def error_for(resp: Any) -> ChatError:
    """The neutral error for a nio error response."""
    transport = getattr(resp, "transport_response", None)
    status = transport.status if transport is not None else 0
    code = resp.status_code if isinstance(resp.status_code, str) else ""
    text = f"{code or status}: {resp.message}"
    if code == "M_LIMIT_EXCEEDED" or status == 429:
        return RateLimited(_retry_after(resp), text)
    # Without an error code (a proxy's page), the status says what happened.
    if code == UNKNOWN_TOKEN:
        return Transient(text)  # the adapter logs in again, or stops (see MatrixAdapter)
    if code == "M_FORBIDDEN" and not _NOT_IN_ROOM.search(str(resp.message)):
        # In the room, but its power levels no longer let the bot post: an admin may
        # raise them again. Pause, do not drop.
        return CannotPostNow(text)
    if code in _GONE_CODES or (not code and status in (403, 404)):
        return ChatGone(text)
    if status >= 500:
        return MaybeDelivered(text)  # the server got the request; it may have been stored
    return Rejected(text)
