"""What a command handler receives besides the message: services and request facts."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.announcements import Announcements
from bot.archive import Archive
from bot.audit import AuditLog
from bot.chat import Incoming, Post
from bot.chat.messenger import Messenger
from bot.config import Config
from bot.donations import Donations
from bot.feeds.poller import FeedPoller
from bot.feeds.websub import WebSub
from bot.i18n import Lang, Msg
from bot.outbox import Outbox
from bot.outbox.audience import Audience
from bot.people import People
from bot.privacy import Privacy
from bot.storage import Database
from bot.subscriptions import Subscriptions


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One registered command: its name, handler and how /help describes it."""

    name: str
    handler: Handler
    summary: Msg  # marked with N_, translated when /help or a command menu shows it
    usage: Msg | str = ""  # a Msg when it holds words ("[topic ...]"), else kept as is
    admin: bool = False


@dataclass(frozen=True, slots=True)
class Services:
    """The long-lived parts handlers may use, built by the composition root in one step.

    `donations` is None when no campaign is configured (its commands are then not registered).
    """

    config: Config
    db: Database
    audience: Audience
    outbox: Outbox
    poller: FeedPoller
    subscriptions: Subscriptions
    archive: Archive
    messenger: Messenger
    audit: AuditLog
    announcements: Announcements
    privacy: Privacy
    people: People
    clock: Callable[[], float] = time.time
    donations: Donations | None = None
    websub: WebSub | None = None  # with [web] public_url: feeds pushed by their hubs


@dataclass(frozen=True, slots=True)
class Context:
    """Per-command facts: who asked (admin or not) and in which language they read, the
    parsed arguments, the services, and the commands the router answers (for /help)."""

    services: Services
    commands: tuple[CommandSpec, ...]
    command: str
    args: tuple[str, ...]
    arg_text: str
    is_admin: bool
    lang: Lang


# One message, several in order (e.g. a preview, then its confirm buttons), or none.
Reply = Post | tuple[Post, ...] | None
Handler = Callable[[Incoming, Context], Awaitable[Reply]]
