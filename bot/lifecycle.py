"""A built bot's lifetime: start the adapters, run the background jobs, stop in time."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.chat import (
    ChatAdapter,
    ChatError,
    CommandMenu,
    Incoming,
    IncomingKind,
    OnIncoming,
    PlatformLimits,
    Post,
    PublishesCommands,
)
from bot.cluster import FEEDS as FEEDS_ROLE
from bot.cluster import Coordination
from bot.config import Config
from bot.context import CommandSpec, Services
from bot.i18n import Lang, supported_languages
from bot.outbox import Item
from bot.outbox.delivery import DeliveryPolicy, DeliveryWorker
from bot.router import CommandRouter
from bot.storage import Database
from bot.storage import feeds as fq
from bot.storage import outbox as q
from bot.web import WebServer

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 10.0
REPLY_TARGET = "reply"  # an outbox row that carries a reply to a person's command

_CHAT_CHANGES = (
    IncomingKind.BOT_REMOVED,
    IncomingKind.BOT_ADDED,
    IncomingKind.CHAT_MIGRATED,
    IncomingKind.PLATFORM_STOPPED,
)

BackgroundJob = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class StartupError(Exception):
    """The bot cannot start with this configuration; the message says why."""


def admin_targets(config: Config) -> list[q.Target]:
    """Each admin's private chat on each enabled platform."""
    enabled = config.enabled_platforms()
    ids = {
        "console": list(config.admins.console),
        "telegram": [str(i) for i in config.admins.telegram],
        "matrix": list(config.admins.matrix),
    }
    return [
        q.Target(platform, chat_id, "private", "admin")
        for platform in enabled
        for chat_id in ids[platform]
    ]


def delivery_policy(
    platform: str, config: Config, limits: PlatformLimits | None = None
) -> DeliveryPolicy:
    """Matrix sends are idempotent (transaction ids); Telegram's only if the operator accepts
    a rare duplicate; the console's trivially. Enough sends in flight for the platform's
    rate (`limits`): each waits for its claim's commit and for the platform's answer."""
    retention = config.bot.paused_retention
    concurrency = max(8, math.ceil(limits.global_rate * SEND_LATENCY)) if limits else 8
    if platform == "telegram":
        resend = config.telegram.delivery == "at_least_once"
        return DeliveryPolicy(
            resend_uncertain=resend, paused_retention=retention, concurrency=concurrency
        )
    return DeliveryPolicy(
        resend_uncertain=True, paused_retention=retention, concurrency=concurrency
    )


SEND_LATENCY = 0.05  # seconds a send is planned to take, claim and answer (see above)


def command_menu(commands: Sequence[CommandSpec], lang: Lang, language: str) -> CommandMenu:
    """The menus with their descriptions in `lang`; the command names stay Latin."""
    public = [(c.name, lang.gettext(c.summary)) for c in commands if not c.admin]
    admin = [(c.name, lang.gettext(c.summary)) for c in commands if c.admin]
    return CommandMenu(language, public, admin)


def command_menus(commands: Sequence[CommandSpec], config: Config) -> list[CommandMenu]:
    """The default menu in `[bot] language`, then one per language with a catalogue, under
    its ISO 639-1 code (a regional catalogue, pt_BR, publishes as "pt" unless "pt" has one)."""
    menus = [command_menu(commands, Lang.of(config.bot.language), "")]
    published: set[str] = set()
    for code in sorted(supported_languages(), key=lambda c: ("_" in c or "-" in c, c)):
        iso = code.replace("-", "_").split("_", 1)[0].lower()
        if iso not in published:
            published.add(iso)
            menus.append(command_menu(commands, Lang.of(code), iso))
    return menus


async def start_adapter(adapter: ChatAdapter, on_incoming: OnIncoming | None) -> None:
    """Start one adapter; a failure (bad token, unreachable server) is a clear startup error."""
    try:
        await adapter.start(on_incoming)
    except Exception as exc:
        log.debug("starting %s failed", adapter.platform, exc_info=True)
        raise StartupError(f"{adapter.platform}: could not start: {exc}") from exc


@dataclass
class App:
    """A built bot: adapters, router, delivery workers and services around one database.

    `stop` is the event the console adapter (on end of input) and signal handlers set;
    `bot.app.build_app` makes one, whole.
    """

    config: Config
    services: Services
    router: CommandRouter
    adapters: Mapping[str, ChatAdapter]
    workers: Mapping[str, DeliveryWorker]
    stop: asyncio.Event
    web: WebServer | None = None  # the [web] server (webhook, campaign pages), when it runs
    # On PostgreSQL: this instance's roles among several (None on SQLite: one instance).
    coordination: Coordination | None = None

    @property
    def db(self) -> Database:
        return self.services.db

    def request_stop(self) -> None:
        self.stop.set()

    async def dispatch(self, incoming: Incoming) -> None:
        """Handle one incoming update and send the reply straight back to its chat (with
        several instances, through the sender role's holder when it is another instance).

        Replies go through the messenger: the pacer's priority lane, and a flood wait is
        sat out and the reply sent after it.
        """
        if incoming.kind in _CHAT_CHANGES:
            await self.on_chat_change(incoming)
            return
        reply = await self.router.handle(incoming)
        if reply is None:
            return
        posts = reply if isinstance(reply, tuple) else (reply,)
        if self._paced_elsewhere(incoming.platform):
            await self._reply_through_holder(incoming, posts)
            return
        key = f"reply:{incoming.platform}:{incoming.chat.id}:{incoming.message_id}"
        try:
            for n, post in enumerate(posts):
                await self.services.messenger.send(
                    incoming.chat, post, key=f"{key}:{n}", reply_to=incoming.message_id
                )
        except ChatError as exc:
            log.warning("could not send a reply on %s: %s", incoming.platform, type(exc).__name__)

    def _paced_elsewhere(self, platform: str) -> bool:
        """Several instances: the platform's pacing lives with its sender role, so an
        instance that does not hold it hands its replies to the holder."""
        return self.coordination is not None and platform not in self.coordination.held()

    async def _reply_through_holder(self, incoming: Incoming, posts: tuple[Post, ...]) -> None:
        """The reply as outbox rows ahead of the queue: the sender role's holder sends
        them within its pacing (woken through NOTIFY), once."""
        chat = incoming.chat
        target = q.Target(incoming.platform, chat.id, chat.kind, REPLY_TARGET)
        async with self.db.transaction() as tx:
            for post in posts:
                await self.services.outbox.enqueue(tx, Item("reply", post, first=True), [target])

    async def on_chat_change(self, incoming: Incoming) -> None:
        """The platform says the bot left or joined a chat, or a chat has a new id."""
        chat, audience = incoming.chat, self.services.audience
        if incoming.kind is IncomingKind.BOT_REMOVED:
            log.info("removed from a %s chat on %s", chat.kind, chat.platform)
            await fq.deactivate_subscriber(self.db, chat.platform, chat.id)
            await q.end_chat(self.db, chat.platform, chat.id, time.time())
            await audience.on_bot_removed(chat.platform, chat.id, "the bot was removed")
        elif incoming.kind is IncomingKind.PLATFORM_STOPPED:
            log.error("the %s adapter stopped: %s", chat.platform, incoming.text)
            await audience.on_platform_stopped(chat.platform, incoming.text)
        elif incoming.kind is IncomingKind.BOT_ADDED:
            log.info("added to a %s chat on %s", chat.kind, chat.platform)
            await audience.on_bot_added(chat.platform, chat.id)
        elif incoming.new_chat_id:
            log.info("a %s chat on %s has a new id", chat.kind, chat.platform)
            await q.move_chat(self.db, chat.platform, chat.id, incoming.new_chat_id)
            await audience.on_moved(chat.platform, chat.id, incoming.new_chat_id)

    async def publish_menus(self, adapter: PublishesCommands) -> None:
        """Publish the command menus (public, and the admins' own) in every language."""
        admins = [t.chat_id for t in admin_targets(self.config) if t.platform == adapter.platform]
        try:
            await adapter.publish_commands(
                command_menus(self.router.commands(), self.config), admins
            )
        except ChatError as exc:
            log.warning("could not publish the %s command menu: %s", adapter.platform, exc)

    async def close(self) -> None:
        """Release what the services hold open (the payment provider's HTTP session)."""
        if self.services.donations is not None:
            await self.services.donations.aclose()
        if self.coordination is not None:
            await self.coordination.aclose()

    async def recover(self) -> None:
        """Resolve deliveries a crash left in `sending`, by each platform's rule."""
        resend = [p for p in self.adapters if delivery_policy(p, self.config).resend_uncertain]
        counts = await q.recover_sending(self.db, resend, time.time())
        if counts["resend"] or counts["unknown"]:
            log.warning(
                "after a crash: %d interrupted deliveries will be re-sent, %d marked unknown",
                counts["resend"],
                counts["unknown"],
            )

    def jobs(self) -> list[BackgroundJob]:
        """What runs beside the adapters: delivery, feeds, announcements, donations (on
        PostgreSQL, as roles this instance runs while it holds them)."""
        jobs: list[BackgroundJob] = []
        donations = self.services.donations
        if self.coordination is not None:
            # Every instance serves the web server (and so the webhook); the rest are roles.
            jobs += self.coordination.jobs()
        else:
            jobs += [w.run for w in self.workers.values()]
            jobs += [self.services.poller.run, self.services.announcements.run]
            if donations is not None:
                jobs += donations.jobs()
        if self.web is not None:
            jobs.append(self.web.run)
            if self.services.websub is not None:
                jobs.append(partial(self.services.websub.run, ready=self.web.listening))
        return jobs

    async def run(self) -> None:
        """Run until a stop is requested; then shut down within the grace period."""
        if self.coordination is None:  # else each role's new holder recovers its own rows
            await self.recover()
        started: list[ChatAdapter] = []
        tasks: list[asyncio.Task[None]] = []
        async with self.services.poller, asyncio.TaskGroup() as tg:
            try:
                for adapter in self.adapters.values():
                    await start_adapter(adapter, self.dispatch)
                    started.append(adapter)
                    if isinstance(adapter, PublishesCommands):
                        await self.publish_menus(adapter)
                tasks = [tg.create_task(job(self.stop)) for job in self.jobs()]
                log.info("running with %s", ", ".join(self.adapters))
                await self.stop.wait()
            finally:
                self.stop.set()
                log.info("shutting down")
                for adapter in reversed(started):
                    await adapter.stop()
            # Sends in flight finish; anything else left is resumable from the outbox.
            _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE) if tasks else ((), ())
            for task in pending:
                log.warning("a background job did not stop in time; cancelling it")
                task.cancel()

    async def run_once(self) -> None:
        """Poll every feed once, deliver everything due, and return (for cron).

        On PostgreSQL only what no live instance is doing: the pass takes the free roles
        first, and a platform or the feeds whose role another instance holds are left to it.
        """
        if self.coordination is None:
            await self.recover()
            await self._one_pass(list(self.workers), poll=True)
            return
        async with self.coordination.coordinator.free_roles_once() as taken:
            skipped = [r for r in [*self.workers, FEEDS_ROLE] if r not in taken]
            if skipped:
                log.info("run --once: left to the instances running them: %s", ", ".join(skipped))
            await self._one_pass([p for p in self.workers if p in taken], poll=FEEDS_ROLE in taken)

    async def _one_pass(self, platforms: list[str], *, poll: bool) -> None:
        started: list[ChatAdapter] = []
        try:
            for adapter in self.adapters.values():
                await start_adapter(adapter, None)
                started.append(adapter)
            if poll:
                async with self.services.poller:
                    await self.services.poller.poll_all()
            async with asyncio.TaskGroup() as tg:
                for platform in platforms:
                    tg.create_task(self.workers[platform].drain())
        finally:
            for adapter in reversed(started):
                await adapter.stop()
