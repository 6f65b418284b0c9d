"""Turns incoming messages into command calls: parsing, admin gate, rate limit, errors."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from bot.audit import actor_of
from bot.chat import ChatKind, Incoming, IncomingKind, Post, Sender
from bot.config import AdminsSection
from bot.context import CommandSpec, Context, Reply, Services
from bot.i18n import Lang

log = logging.getLogger(__name__)

_COMMAND = re.compile(
    r"^[/!](?P<name>[A-Za-z][A-Za-z0-9_]{0,31})(?:@(?P<bot>[A-Za-z0-9_]{1,64}))?(?:\s+(?P<args>.*))?$",
    re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    name: str
    addressed_to: str | None
    arg_text: str

    @property
    def args(self) -> tuple[str, ...]:
        return tuple(self.arg_text.split())


def parse_command(text: str) -> ParsedCommand | None:
    """Parse `/cmd`, `/cmd@botname` and Matrix-style `!cmd`, each with optional arguments."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    return ParsedCommand(
        name=match.group("name").lower(),
        addressed_to=match.group("bot"),
        arg_text=(match.group("args") or "").strip(),
    )


def is_admin(admins: AdminsSection, sender: Sender) -> bool:
    """Admins come from the config allowlists only."""
    if sender.platform == "telegram":
        return sender.id in {str(i) for i in admins.telegram}
    if sender.platform == "matrix":
        return sender.id in admins.matrix
    if sender.platform == "console":
        return sender.id in admins.console
    return False


class CommandRateLimit:
    """At most `per_minute` commands per person in any 60-second window."""

    _MAX_TRACKED = 10_000

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._warned: set[tuple[str, str]] = set()

    def check(self, sender: Sender) -> str:
        """Return "ok", "warn" (first refusal in a window: tell them) or "drop"."""
        now = self.clock()
        key = (sender.platform, sender.id)
        if len(self._seen) > self._MAX_TRACKED:
            self._forget_idle(now)
        times = self._seen.setdefault(key, deque())
        while times and now - times[0] >= 60:
            times.popleft()
        if len(times) < self.per_minute:
            times.append(now)
            self._warned.discard(key)
            return "ok"
        if key in self._warned:
            return "drop"
        self._warned.add(key)
        return "warn"

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, t in self._seen.items() if not t or now - t[-1] >= 60]:
            del self._seen[key]
            self._warned.discard(key)


# The bot's own name on a platform (the `ourbot` of /cmd@ourbot), or None while unknown.
BotNames = Callable[[str], str | None]


def written_in(lang: Lang, reply: Reply) -> Reply:
    """The reply's posts marked as written in `lang` (unless a handler marked them)."""
    if reply is None:
        return None
    if isinstance(reply, tuple):
        return tuple(p if p.lang else replace(p, lang=lang.code) for p in reply)
    return reply if reply.lang else replace(reply, lang=lang.code)


def _no_names(platform: str) -> str | None:
    return None


class CommandRouter:
    """Routes each incoming command to its handler and returns the reply, if any.

    Its commands are fixed at construction, in the order /help lists them.
    """

    def __init__(
        self,
        services: Services,
        commands: Iterable[CommandSpec],
        *,
        bot_names: BotNames = _no_names,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.services = services
        self.bot_names = bot_names
        self.rate_limit = CommandRateLimit(services.config.bot.commands_per_minute, clock)
        registry: dict[str, CommandSpec] = {}
        for spec in commands:
            if spec.name in registry:
                raise ValueError(f"command /{spec.name} is registered twice")
            registry[spec.name] = spec
        self._commands = registry
        self._specs = tuple(registry.values())

    def commands(self) -> tuple[CommandSpec, ...]:
        return self._specs

    async def handle(self, incoming: Incoming) -> Reply:
        if incoming.kind not in (IncomingKind.MESSAGE, IncomingKind.BUTTON):
            return None
        parsed = parse_command(incoming.text)
        private = incoming.chat.kind is ChatKind.PRIVATE
        if parsed is None:
            if private and incoming.text.strip():
                lang = await self.services.people.lang_of(incoming.sender)
                return written_in(
                    lang, Post.text(lang.gettext("I answer commands. Send /help to see them."))
                )
            return None
        if parsed.addressed_to is not None:
            ours = self.bot_names(incoming.platform)
            if ours is not None and parsed.addressed_to.lower() != ours.lower():
                return None  # a command for another bot in the same group
        verdict = self.rate_limit.check(incoming.sender)
        if verdict == "drop":
            return None
        spec = self._commands.get(parsed.name)
        if verdict != "warn" and spec is None and not (private or parsed.addressed_to):
            return None
        lang = await self.services.people.lang_of(incoming.sender)
        if verdict == "warn":
            log.info("rate limited a sender on %s", incoming.platform)
            return written_in(
                lang,
                Post.text(
                    lang.gettext("You are sending commands too quickly. Please wait a minute.")
                ),
            )
        if spec is None:
            return written_in(
                lang,
                Post.text(
                    lang.gettext(
                        "I don't know /{command}. Send /help to see what I can do.",
                        command=parsed.name,
                    )
                ),
            )
        return written_in(lang, await self._run(spec, parsed, incoming, lang))

    async def _run(
        self, spec: CommandSpec, parsed: ParsedCommand, incoming: Incoming, lang: Lang
    ) -> Reply:
        admin = is_admin(self.services.config.admins, incoming.sender)
        if spec.admin and not admin:
            log.info("refused admin command /%s on %s", spec.name, incoming.platform)
            await self.services.audit.record(
                actor_of(incoming.sender), spec.name, "admin command", "refused: not an admin"
            )
            return Post.text(lang.gettext("Sorry, that command is not available to you."))
        ctx = Context(
            services=self.services,
            commands=self._specs,
            command=spec.name,
            args=parsed.args,
            arg_text=parsed.arg_text,
            is_admin=admin,
            lang=lang,
        )
        try:
            return await spec.handler(incoming, ctx)
        except Exception:
            ref = secrets.token_hex(3)
            log.exception("command /%s failed [ref %s]", spec.name, ref)
            return Post.text(
                lang.gettext(
                    "Sorry, something went wrong on my side (ref {ref}). Please try again later.",
                    ref=ref,
                )
            )
