"""Matrix sync events as `Incoming`, and homeserver errors as neutral errors, without a network."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from nio import Event, InviteEvent, MatrixRoom, RoomSendError

from bot.adapters.matrix_map import (
    after_own_join,
    error_for,
    invite_decision,
    left_alone,
    to_incoming,
)
from bot.chat import (
    CannotPostNow,
    ChatGone,
    ChatKind,
    ChatRef,
    IncomingKind,
    MaybeDelivered,
    RateLimited,
    Rejected,
    Sender,
    Transient,
)

BOT = "@bot:example.org"
ANN = "@ann:example.org"


def room(*members: str, name: str | None = None) -> MatrixRoom:
    r = MatrixRoom("!room:example.org", BOT)
    r.name = name
    for m in members:
        r.add_member(m, m[1:4].title(), None)
    return r


_ids = iter(range(1, 1_000_000))


def event(sender: str, content: dict[str, Any], kind: str = "m.room.message", **extra: Any) -> Any:
    source = {
        "type": kind,
        "event_id": f"$e{next(_ids)}",
        "sender": sender,
        "origin_server_ts": 1,
        "content": content,
        **extra,
    }
    return Event.parse_event(source)


def text(sender: str, body: str, **content: Any) -> Any:
    return event(sender, {"msgtype": "m.text", "body": body, **content})


def member(user: str, membership: str, prev: str | None = None, sender: str | None = None) -> Any:
    unsigned = {"prev_content": {"membership": prev}} if prev else {}
    return event(
        sender or user,
        {"membership": membership},
        "m.room.member",
        state_key=user,
        unsigned=unsigned,
    )


def test_a_text_message_in_a_direct_room_is_private() -> None:
    msg = text(ANN, "!donate russia 50")

    incoming = to_incoming(msg, room(BOT, ANN), BOT)

    assert incoming is not None
    assert incoming.chat == ChatRef("matrix", "!room:example.org", ChatKind.PRIVATE, "Ann")
    assert incoming.sender == Sender("matrix", ANN, "Ann")
    assert incoming.text == "!donate russia 50"
    assert incoming.message_id == msg.event_id
    assert incoming.kind is IncomingKind.MESSAGE


@pytest.mark.parametrize("where", [room(BOT, ANN, name="News"), room(BOT, ANN, "@cat:example.org")])
def test_named_or_larger_rooms_are_groups(where: MatrixRoom) -> None:
    incoming = to_incoming(text(ANN, "/help"), where, BOT)

    assert incoming is not None
    assert incoming.chat.kind is ChatKind.GROUP
    assert incoming.text == "/help"


@pytest.mark.parametrize(
    "msg",
    [
        text(BOT, "!help"),  # our own
        event(ANN, {"msgtype": "m.notice", "body": "!help"}),  # another bot
        text(ANN, "* !help", **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}}),
        event(ANN, {"msgtype": "m.emote", "body": "waves"}),
        member(ANN, "join"),
    ],
)
def test_what_the_bot_must_not_answer_is_dropped(msg: Any) -> None:
    assert to_incoming(msg, room(BOT, ANN), BOT) is None


def test_a_reply_fallback_is_not_part_of_the_command() -> None:
    body = "> <@cat:example.org> earlier words\n> more\n\n!help"
    msg = text(ANN, body, **{"m.relates_to": {"m.in_reply_to": {"event_id": "$q"}}})

    incoming = to_incoming(msg, room(BOT, ANN), BOT)

    assert incoming is not None
    assert incoming.text == "!help"


@pytest.mark.parametrize(("membership", "prev"), [("leave", "join"), ("ban", "join")])
def test_the_bot_kicked_or_banned_is_bot_removed(membership: str, prev: str) -> None:
    incoming = to_incoming(member(BOT, membership, prev, sender=ANN), room(BOT, ANN), BOT)

    assert incoming is not None
    assert incoming.kind is IncomingKind.BOT_REMOVED
    assert incoming.chat.id == "!room:example.org"


def test_declining_an_invite_is_not_a_removal() -> None:
    assert to_incoming(member(BOT, "leave", "invite"), room(BOT, ANN), BOT) is None


def test_history_before_the_bot_joined_is_skipped() -> None:
    old, join, new = text(ANN, "!old"), member(BOT, "join", "invite"), text(ANN, "!new")
    rename = member(BOT, "join", "join")  # a profile change is not a new join

    assert after_own_join([old, join, new], BOT) == [new]
    assert after_own_join([old, rename, new], BOT) == [old, rename, new]


@dataclass
class TransportStandIn:
    """What `error_for` reads from aiohttp's response: the status and the headers."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)


def send_error(
    errcode: str,
    status: int,
    headers: dict[str, str] | None = None,
    message: str = "nope",
    **body: Any,
) -> Any:
    resp = RoomSendError.from_dict({"errcode": errcode, "error": message, **body}, "!room:x")
    resp.transport_response = TransportStandIn(status, headers or {})
    return resp


def test_rate_limit_reads_the_header_before_the_body() -> None:
    with_header = send_error("M_LIMIT_EXCEEDED", 429, {"Retry-After": "7"}, retry_after_ms=2500)
    body_only = send_error("M_LIMIT_EXCEEDED", 429, retry_after_ms=2500)

    assert isinstance(error := error_for(with_header), RateLimited)
    assert error.retry_after == 7.0
    assert isinstance(error := error_for(body_only), RateLimited)
    assert error.retry_after == 2.5


@pytest.mark.parametrize(
    ("errcode", "status", "expected"),
    [
        ("M_FORBIDDEN", 403, CannotPostNow),  # "nope": in the room, not allowed to post
        ("M_NOT_FOUND", 404, ChatGone),
        ("M_UNKNOWN", 502, MaybeDelivered),
        ("M_TOO_LARGE", 413, Rejected),
        ("M_BAD_JSON", 400, Rejected),
        ("M_UNRECOGNIZED", 404, Rejected),  # an endpoint the server lacks, not a missing room
        ("", 403, ChatGone),
    ],
)
def test_homeserver_errors_map_to_neutral_errors(
    errcode: str, status: int, expected: type[Exception]
) -> None:
    assert isinstance(error_for(send_error(errcode, status)), expected)


@pytest.mark.parametrize(
    ("errcode", "status", "message", "expected"),
    [
        # Synapse's words when the bot is no longer in the room: gone.
        ("M_FORBIDDEN", 403, "User @bot:x not in room !r (None)", ChatGone),
        ("M_FORBIDDEN", 403, "User @bot:x is banned from the room", ChatGone),
        # A lowered power level: the bot may post again once it is raised (issue 14).
        (
            "M_FORBIDDEN",
            403,
            "You don't have permission to post that to the room. user_level (0) < send_level (50)",
            CannotPostNow,
        ),
        # A refused access token: the adapter logs in again (or stops), the row waits.
        ("M_UNKNOWN_TOKEN", 401, "Invalid access token passed.", Transient),
    ],
)
def test_refusals_in_a_room_tell_gone_from_paused(
    errcode: str, status: int, message: str, expected: type[Exception]
) -> None:
    assert isinstance(error_for(send_error(errcode, status, message=message)), expected)


def invite_state(inviter: str, *, direct: bool = False, alias: str | None = None) -> list[Any]:
    content: dict[str, Any] = {"membership": "invite", **({"is_direct": True} if direct else {})}
    events = [{"type": "m.room.member", "sender": inviter, "state_key": BOT, "content": content}]
    if alias:
        events.append(
            {
                "type": "m.room.canonical_alias",
                "sender": inviter,
                "state_key": "",
                "content": {"alias": alias},
            }
        )
    return [InviteEvent.parse_event(e) for e in events]


@pytest.mark.parametrize(
    ("state", "accept"),
    [
        (invite_state(ANN), False),  # a stranger's group room
        (invite_state(ANN, direct=True), True),  # a stranger's direct chat: /subscribe needs one
        (invite_state("@boss:example.org"), True),  # an admin's room
        (invite_state(ANN, alias="#news:example.org"), True),  # a configured room, by alias
    ],
)
def test_invites_are_accepted_only_where_the_bot_belongs(state: list[Any], accept: bool) -> None:
    decision = invite_decision(
        state, "!room:example.org", BOT, {"#news:example.org"}, frozenset({"@boss:example.org"})
    )

    assert decision.accept is accept
    assert decision.inviter == state[0].sender


def test_an_invite_to_a_configured_room_id_is_accepted() -> None:
    decision = invite_decision(
        invite_state(ANN), "!room:example.org", BOT, {"!room:example.org"}, frozenset()
    )

    assert decision.accept


def test_the_bot_leaves_a_room_everyone_else_left() -> None:
    alone = room(BOT)

    assert left_alone([member(ANN, "leave", "join")], alone, BOT)
    assert not left_alone([text(ANN, "hi")], alone, BOT)  # e.g. a room it just opened
    assert not left_alone([member(ANN, "leave", "join")], room(BOT, "@cat:example.org"), BOT)
