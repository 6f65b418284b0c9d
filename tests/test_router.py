from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app import build_app
from bot.chat import ChatKind, ChatRef, Incoming, Post, Sender
from bot.chat.plain import render_plain
from bot.context import CommandSpec, Context, Reply
from bot.router import CommandRouter, parse_command
from bot.storage import Database
from tests.fakes.recording import RecordingAdapter
from tests.helpers import make_config


def said(reply: Reply) -> str:
    assert reply is not None
    return render_plain(reply)


def msg(text: str, *, user: str = "alice", kind: ChatKind = ChatKind.PRIVATE) -> Incoming:
    chat_id = user if kind is ChatKind.PRIVATE else "group"
    return Incoming(ChatRef("console", chat_id, kind), Sender("console", user), text, "1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_router(
    tmp_path: Path, db: Database, clock: FakeClock | None = None, *extra: CommandSpec
) -> CommandRouter:
    """The app's router and commands (plus `extra`), named OutreachBot, on a clock we move."""
    config = make_config(tmp_path, bot={"commands_per_minute": 3})
    app = build_app(config, db, adapters={"console": RecordingAdapter()})
    return CommandRouter(
        app.services,
        [*app.router.commands(), *extra],
        bot_names={"console": "OutreachBot"}.get,
        clock=clock or FakeClock(),
    )


@pytest.mark.parametrize(
    ("text", "name", "bot", "args"),
    [
        ("/help", "help", None, ()),
        ("/donate@OutreachBot russia 50", "donate", "OutreachBot", ("russia", "50")),
        ("!donate russia", "donate", None, ("russia",)),
        ("  /START  ", "start", None, ()),
        ("/announce *Big*\nline two", "announce", None, ("*Big*", "line", "two")),
    ],
)
def test_parse_command(text: str, name: str, bot: str | None, args: tuple[str, ...]) -> None:
    parsed = parse_command(text)
    assert parsed is not None
    assert (parsed.name, parsed.addressed_to, parsed.args) == (name, bot, args)


@pytest.mark.parametrize("text", ["hello", "/", "!", "/ help", "//x", "/1abc"])
def test_non_commands(text: str) -> None:
    assert parse_command(text) is None


async def test_help_hides_admin_commands_from_non_admins(tmp_path: Path, db: Database) -> None:
    async def secret(incoming: Incoming, ctx: Context) -> Reply:
        return Post.text("secret done")

    router = make_router(
        tmp_path, db, None, CommandSpec("secret", secret, "an admin thing", admin=True)
    )
    public_help = said(await router.handle(msg("/help")))
    assert "/start" in public_help
    assert "/secret" not in public_help
    admin_help = said(await router.handle(msg("/help", user="admin")))
    assert "Admin commands" in admin_help
    assert "/secret — an admin thing" in admin_help


async def test_admin_gate_refuses_non_admins(
    tmp_path: Path, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    async def secret(incoming: Incoming, ctx: Context) -> Reply:
        calls.append(incoming.sender.id)
        return Post.text("secret done")

    router = make_router(
        tmp_path, db, None, CommandSpec("secret", secret, "an admin thing", admin=True)
    )
    with caplog.at_level(logging.INFO):
        refused = said(await router.handle(msg("/secret")))
    assert refused == "Sorry, that command is not available to you."
    assert "refused admin command /secret" in caplog.text
    assert "alice" not in caplog.text  # no user ids at INFO
    assert said(await router.handle(msg("/secret", user="admin"))) == "secret done"
    assert calls == ["admin"]


async def test_unknown_command_points_to_help(tmp_path: Path, db: Database) -> None:
    router = make_router(tmp_path, db)
    assert said(await router.handle(msg("/frobnicate"))) == (
        "I don't know /frobnicate. Send /help to see what I can do."
    )
    # In a group an unknown bare command may belong to another bot: stay quiet.
    assert await router.handle(msg("/frobnicate", kind=ChatKind.GROUP)) is None
    assert await router.handle(msg("/frobnicate@OutreachBot", kind=ChatKind.GROUP)) is not None


async def test_commands_for_another_bot_are_ignored(tmp_path: Path, db: Database) -> None:
    router = make_router(tmp_path, db)
    assert await router.handle(msg("/help@OtherBot", kind=ChatKind.GROUP)) is None
    assert await router.handle(msg("/help@outreachbot", kind=ChatKind.GROUP)) is not None


async def test_a_raising_handler_gets_an_apology_and_a_logged_reference(
    tmp_path: Path, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(incoming: Incoming, ctx: Context) -> Reply:
        raise ZeroDivisionError("oops")

    router = make_router(tmp_path, db, None, CommandSpec("broken", broken, "fails"))
    with caplog.at_level(logging.ERROR):
        reply = said(await router.handle(msg("/broken")))
    assert reply.startswith("Sorry, something went wrong on my side (ref ")
    ref = reply.split("(ref ")[1].split(")")[0]
    assert f"[ref {ref}]" in caplog.text
    assert "ZeroDivisionError" in caplog.text
    # The bot keeps answering.
    assert "Commands" in said(await router.handle(msg("/help")))


async def test_per_user_rate_limit(tmp_path: Path, db: Database) -> None:
    clock = FakeClock()
    router = make_router(tmp_path, db, clock)
    for _ in range(3):
        assert await router.handle(msg("/start")) is not None
    assert "too quickly" in said(await router.handle(msg("/start")))
    assert await router.handle(msg("/start")) is None  # told once, then quiet
    assert await router.handle(msg("/start", user="bob")) is not None  # others unaffected
    clock.now += 61
    assert "Send /help" in said(await router.handle(msg("/start")))


async def test_plain_text_in_private_gets_a_hint_and_in_groups_nothing(
    tmp_path: Path, db: Database
) -> None:
    router = make_router(tmp_path, db)
    assert "/help" in said(await router.handle(msg("hello")))
    assert await router.handle(msg("hello", kind=ChatKind.GROUP)) is None


async def test_a_command_registered_twice_is_refused(tmp_path: Path, db: Database) -> None:
    async def again(incoming: Incoming, ctx: Context) -> Reply:
        return None

    with pytest.raises(ValueError, match="/help is registered twice"):
        make_router(tmp_path, db, None, CommandSpec("help", again, "twice"))


async def test_without_campaigns_there_are_no_donation_commands(
    tmp_path: Path, db: Database
) -> None:
    router = make_router(tmp_path, db)
    names = {spec.name for spec in router.commands()}
    assert not names & {"donate", "progress", "record", "unrecord"}
    assert "/donate" not in said(await router.handle(msg("/help", user="admin")))
    assert said(await router.handle(msg("/donate"))) == (
        "I don't know /donate. Send /help to see what I can do."
    )


async def test_with_a_campaign_help_lists_the_donation_commands(
    tmp_path: Path, db: Database
) -> None:
    campaign = {
        "id": "russia", "title": "Russian protesters", "earmark": "for legal aid",
        "goal": 1000, "currency": "EUR", "provider": "static",
    }  # fmt: skip
    config = make_config(
        tmp_path,
        campaigns=[campaign],
        donations={"static_url": "https://donate.example.org/?c={campaign}&a={amount}"},
    )
    app = build_app(config, db, adapters={"console": RecordingAdapter()})
    public_help = said(await app.router.handle(msg("/help")))
    assert "/donate [campaign] [amount|any] — give to a campaign" in public_help
    assert "/progress" in public_help
    assert "/record" not in public_help
    assert "/record CAMPAIGN AMOUNT CURRENCY [note]" in said(
        await app.router.handle(msg("/help", user="admin"))
    )
