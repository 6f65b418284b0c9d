"""Which Matrix invites the bot accepts (issue 14): servers, a room limit, retried joins."""

from __future__ import annotations

from typing import Any

import pytest
from nio import AsyncClient, JoinError, JoinResponse

from bot.adapters.matrix_invites import (
    InvitePolicy,
    Invites,
    Verdict,
    default_servers,
    server_of,
)
from tests.adapters.test_matrix_map import BOT, TransportStandIn, invite_state

STRANGER = "@eve:elsewhere.example"
ROOM = "!opaqueRoomIdOfVersion12"  # room version 12: no server in the id


def invites(*servers: str, max_rooms: int = 200) -> Invites:
    policy = InvitePolicy(frozenset(servers or ("example.org",)), max_rooms)
    return Invites(BOT, policy, frozenset({"@boss:example.org"}))


@pytest.fixture
async def client() -> Any:
    client = AsyncClient("http://127.0.0.1:9", BOT)
    yield client
    await client.close()


def test_servers_come_from_user_ids_and_aliases_never_room_ids() -> None:
    assert server_of("@ann:Example.org") == "example.org"
    assert server_of("#news:matrix.example") == "matrix.example"
    assert server_of("!abc:old.example") == ""  # a room id's suffix is no server of the room
    assert server_of(ROOM) == ""
    rooms = ["#news:news.example", "!legacy:old.example", ROOM]
    assert default_servers(BOT, rooms, ["@boss:staff.example"]) == [
        "example.org",
        "news.example",
        "staff.example",
    ]


async def test_a_direct_chat_from_another_server_is_declined(client: AsyncClient) -> None:
    verdict = invites().decide(client, ROOM, invite_state(STRANGER, direct=True), set())
    assert not verdict.accept
    assert verdict.reason == "the inviter's server is not allowed"


async def test_a_direct_chat_from_an_allowed_server_is_accepted(client: AsyncClient) -> None:
    ann = invite_state("@ann:example.org", direct=True)
    assert invites().decide(client, ROOM, ann, set()).accept
    eve = invite_state(STRANGER, direct=True)
    assert invites("*").decide(client, ROOM, eve, set()).accept  # ["*"] opens it


async def test_a_configured_room_and_an_admins_invite_are_always_accepted(
    client: AsyncClient,
) -> None:
    configured = invite_state(STRANGER, alias="#news:elsewhere.example")
    assert invites().decide(client, ROOM, configured, {"#news:elsewhere.example"}).accept
    assert invites().decide(client, ROOM, invite_state("@boss:example.org"), set()).accept


async def test_no_new_direct_chat_beyond_max_rooms(client: AsyncClient) -> None:
    client.rooms = {f"!r{n}": object() for n in range(3)}  # type: ignore[misc]
    ann = invite_state("@ann:example.org", direct=True)
    verdict = invites(max_rooms=3).decide(client, ROOM, ann, set())
    assert not verdict.accept
    assert "max_rooms" in verdict.reason


class Joining:
    """A client whose joins answer with the given responses, in order."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.joined: list[str] = []

    async def join(self, room_id: str) -> Any:
        self.joined.append(room_id)
        return self.answers.pop(0)


def join_error(errcode: str, status: int) -> Any:
    resp = JoinError.from_dict({"errcode": errcode, "error": "no"})
    resp.transport_response = TransportStandIn(status)
    return resp


async def test_a_temporary_join_failure_is_retried_not_declined() -> None:
    joined = JoinResponse(ROOM)
    joining = Joining(join_error("M_UNKNOWN", 502), join_error("M_LIMIT_EXCEEDED", 429), joined)
    invite = invites()
    verdict = Verdict(True, "a direct chat", "@ann:example.org")

    assert await invite.join(joining, ROOM, verdict) is None  # type: ignore[arg-type]
    assert invite.waiting() == [(ROOM, verdict)]
    assert await invite.join(joining, ROOM, verdict) is None  # type: ignore[arg-type]
    assert await invite.join(joining, ROOM, verdict) is True  # type: ignore[arg-type]
    assert invite.waiting() == []


async def test_a_refused_join_is_declined_at_once() -> None:
    joining = Joining(join_error("M_FORBIDDEN", 403))
    verdict = Verdict(True, "a direct chat", "@ann:example.org")
    assert await invites().join(joining, ROOM, verdict) is False  # type: ignore[arg-type]
