"""The composition root: builds every part from the config and runs their lifetimes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bot import __version__
from bot.adapters.console import ConsoleAdapter
from bot.adapters.matrix import MatrixAdapter
from bot.adapters.telegram import TelegramAdapter
from bot.announcements import Announcements
from bot.archive import Archive
from bot.audit import AuditLog
from bot.chat import ChatAdapter, ChatError, Incoming, IncomingKind, OnIncoming
from bot.chat.messenger import Messenger
from bot.config import Config, FeedEntry
from bot.context import Services
from bot.donations import build_donations
from bot.feeds.poller import FeedPoller, FeedSettings
from bot.outbox.audience import Audience, ChannelSpec
from bot.outbox.delivery import DeliveryPolicy, DeliveryWorker
from bot.outbox.pacing import Pacer
from bot.privacy import Privacy
from bot.router import CommandRouter
from bot.storage import Database, open_database
from bot.storage import feeds as fq
from bot.storage import outbox as q
from bot.storage.state import DatabaseStateStore
from bot.subscriptions import Subscriptions
from handlers import register_all

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 10.0
USER_AGENT = f"outreach-bot/{__version__} (+feed reader of an organisation's chat bot)"

BackgroundJob = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class StartupError(Exception):
    """The bot cannot start with this configuration; the message says why."""


@dataclass
class ConsoleIO:
    """Where the console adapter reads and writes (the terminal unless a test says otherwise)."""

    stdin: TextIO | None = None
    stdout: TextIO | None = None


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


def feed_settings(feed: FeedEntry) -> FeedSettings:
    return FeedSettings(
        name=feed.name,
        url=feed.url,
        channels=tuple(feed.channels),
        interval=feed.interval,
        backfill=feed.backfill,
        include=tuple(feed.include),
        exclude=tuple(feed.exclude),
        topics=dict(feed.topics),
        allow_private=feed.allow_private,
        edit_on_update=feed.edit_on_update,
    )


def build_services(
    config: Config,
    db: Database,
    *,
    clock: Callable[[], float] = time.time,
    environ: Mapping[str, str] = os.environ,
) -> Services:
    channels = {c.name: ChannelSpec(c.name, c.platform, c.chat) for c in config.channels}
    audience = Audience(
        db, channels, config.enabled_platforms(), admin_targets(config), clock=clock
    )
    poller = FeedPoller(
        db, audience, [feed_settings(f) for f in config.feeds], user_agent=USER_AGENT, clock=clock
    )
    feed_topics = {c.casefold(): t for f in config.feeds for c, t in f.topics.items()}
    topics = sorted(set(feed_topics.values()))
    messenger = Messenger()
    audit = AuditLog(db, clock)
    announcements = Announcements(
        db, audience, messenger, audit, [c.name for c in config.channels], topics, clock
    )
    return Services(
        config=config,
        db=db,
        audience=audience,
        poller=poller,
        subscriptions=Subscriptions(db, topics, clock),
        archive=Archive(db, feed_topics),
        messenger=messenger,
        audit=audit,
        announcements=announcements,
        privacy=Privacy(db),
        donations=build_donations(config, db, audience, clock=clock, environ=environ),
        clock=clock,
    )


def delivery_policy(platform: str, config: Config) -> DeliveryPolicy:
    """Matrix sends are idempotent (transaction ids); Telegram's only if the operator accepts
    a rare duplicate; the console's trivially."""
    if platform == "telegram":
        return DeliveryPolicy(resend_uncertain=config.telegram.delivery == "at_least_once")
    return DeliveryPolicy(resend_uncertain=True)


def pacer_for(adapter: ChatAdapter) -> Pacer:
    limits = adapter.limits
    return Pacer(
        rate=limits.global_rate if limits.global_rate > 0 else None,
        burst=limits.burst,
        group_interval=limits.per_chat_interval,
        private_interval=limits.private_interval,
    )


async def start_adapter(adapter: ChatAdapter, on_incoming: OnIncoming | None) -> None:
    """Start one adapter; a failure (bad token, unreachable server) is a clear startup error."""
    try:
        await adapter.start(on_incoming)
    except Exception as exc:
        log.debug("starting %s failed", adapter.platform, exc_info=True)
        raise StartupError(f"{adapter.platform}: could not start: {exc}") from exc


@dataclass
class App:
    """A wired bot: adapters, router, delivery workers and services around one database."""

    config: Config
    services: Services
    router: CommandRouter
    adapters: dict[str, ChatAdapter] = field(default_factory=dict)
    workers: dict[str, DeliveryWorker] = field(default_factory=dict)
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def db(self) -> Database:
        return self.services.db

    async def dispatch(self, incoming: Incoming) -> None:
        """Handle one incoming update and send the reply straight back to its chat."""
        if incoming.kind in (IncomingKind.BOT_REMOVED, IncomingKind.CHAT_MIGRATED):
            await self.on_chat_change(incoming)
            return
        reply = await self.router.handle(incoming)
        if reply is None:
            return
        adapter = self.adapters[incoming.platform]
        key = f"reply:{incoming.platform}:{incoming.chat.id}:{incoming.message_id}"
        posts = reply if isinstance(reply, tuple) else (reply,)
        try:
            for n, post in enumerate(posts):
                await adapter.send(
                    incoming.chat, post, key=f"{key}:{n}", reply_to=incoming.message_id
                )
        except ChatError as exc:
            log.warning("could not send a reply on %s: %s", incoming.platform, type(exc).__name__)

    async def on_chat_change(self, incoming: Incoming) -> None:
        """The platform says a chat is gone or has a new id: stored state follows."""
        chat = incoming.chat
        if incoming.kind is IncomingKind.BOT_REMOVED:
            log.info("removed from a %s chat on %s", chat.kind, chat.platform)
            await fq.deactivate_subscriber(self.db, chat.platform, chat.id)
            await q.end_chat(self.db, chat.platform, chat.id, time.time())
        elif incoming.new_chat_id:
            log.info("a %s chat on %s has a new id", chat.kind, chat.platform)
            await q.move_chat(self.db, chat.platform, chat.id, incoming.new_chat_id)
            await fq.move_subscriber(self.db, chat.platform, chat.id, incoming.new_chat_id)
            await fq.move_channel(self.db, chat.platform, chat.id, incoming.new_chat_id)

    async def announce_telegram(self, adapter: TelegramAdapter) -> None:
        """Let the router recognise /cmd@ourbot, and publish the command menus."""
        self.router.bot_usernames["telegram"] = adapter.username.lower()
        commands = self.router.commands()
        public = [(c.name, c.summary) for c in commands if not c.admin]
        admin = [(c.name, c.summary) for c in commands if c.admin]
        try:
            await adapter.publish_commands(public, admin, list(self.config.admins.telegram))
        except ChatError as exc:
            log.warning("could not publish the Telegram command menu: %s", exc)

    async def close(self) -> None:
        """Release what the services hold open (the payment provider's HTTP session)."""
        if self.services.donations is not None:
            await self.services.donations.aclose()

    def request_stop(self) -> None:
        self.stop_requested.set()

    def wire_workers(self) -> None:
        """Delivery workers per adapter, and direct sends through the same adapters."""
        self.services.messenger.adapters = self.adapters
        for platform, adapter in self.adapters.items():
            self.workers[platform] = DeliveryWorker(
                self.db,
                adapter,
                pacer_for(adapter),
                delivery_policy(platform, self.config),
                on_gone=self.services.audience.on_gone,
                on_failed=self.services.audience.on_failed,
            )
        workers = self.workers
        self.services.audience.wake = lambda p: workers[p].wake() if p in workers else None

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

    async def run(self) -> None:
        """Run until a stop is requested; then shut down within the grace period."""
        await self.recover()
        started: list[ChatAdapter] = []
        tasks: list[asyncio.Task[None]] = []
        async with self.services.poller, asyncio.TaskGroup() as tg:
            try:
                for adapter in self.adapters.values():
                    await start_adapter(adapter, self.dispatch)
                    started.append(adapter)
                    if isinstance(adapter, TelegramAdapter):
                        await self.announce_telegram(adapter)
                jobs: list[BackgroundJob] = [w.run for w in self.workers.values()]
                jobs += [self.services.poller.run, self.services.announcements.run]
                if self.services.donations:
                    jobs += self.services.donations.jobs()
                tasks = [tg.create_task(job(self.stop_requested)) for job in jobs]
                log.info("running with %s", ", ".join(self.adapters))
                await self.stop_requested.wait()
            finally:
                self.stop_requested.set()
                log.info("shutting down")
                for adapter in reversed(started):
                    await adapter.stop()
            # Sends in flight finish; anything else left is resumable from the outbox.
            _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE) if tasks else ((), ())
            for task in pending:
                log.warning("a background job did not stop in time; cancelling it")
                task.cancel()

    async def run_once(self) -> None:
        """Poll every feed once, deliver everything due, and return (for cron)."""
        await self.recover()
        started: list[ChatAdapter] = []
        try:
            for adapter in self.adapters.values():
                await start_adapter(adapter, None)
                started.append(adapter)
            async with self.services.poller:
                await self.services.poller.poll_all()
            async with asyncio.TaskGroup() as tg:
                for worker in self.workers.values():
                    tg.create_task(worker.drain())
        finally:
            for adapter in reversed(started):
                await adapter.stop()


def _secret(environ: Mapping[str, str], name: str | None) -> str | None:
    return (environ.get(name) or None) if name else None


def matrix_adapter(config: Config, db: Database, environ: Mapping[str, str]) -> MatrixAdapter:
    m = config.matrix
    return MatrixAdapter(
        homeserver=m.homeserver,
        user_id=m.user_id,
        state=DatabaseStateStore(db, "matrix."),
        access_token=_secret(environ, m.access_token_env),
        device_id=_secret(environ, m.device_id_env),
        password=_secret(environ, m.password_env),
        rooms=[c.chat for c in config.channels if c.platform == "matrix"],
        admins=list(config.admins.matrix),
        rate=m.rate,
        burst=m.burst,
        exempt=m.exempt,
        store_path=config.database_path().parent / "matrix-store",
    )


def build_adapters(
    config: Config,
    app: App,
    console_io: ConsoleIO,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, ChatAdapter]:
    adapters: dict[str, ChatAdapter] = {}
    if config.console.enabled:
        adapters["console"] = ConsoleAdapter(
            user=config.console.user,
            on_eof=app.request_stop,
            stdin=console_io.stdin,
            stdout=console_io.stdout,
        )
    if config.matrix.enabled:
        adapters["matrix"] = matrix_adapter(config, app.db, environ)
    if config.telegram.enabled:
        t = config.telegram
        adapters["telegram"] = TelegramAdapter(
            token=environ[t.token_env],
            api_base=t.api_base,
            webhook_url=t.webhook_url,
            webhook_listen=t.webhook_listen,
            webhook_secret=_secret(environ, t.webhook_secret_env),
        )
    if not adapters:
        raise StartupError("no chat platform is enabled: enable [console], [telegram] or [matrix]")
    return adapters


def build_app(
    config: Config,
    db: Database,
    console_io: ConsoleIO | None = None,
    environ: Mapping[str, str] = os.environ,
) -> App:
    """The whole bot from its config: services, router with every command, adapters, workers."""
    services = build_services(config, db, environ=environ)
    router = CommandRouter(services)
    register_all(router)
    app = App(config=config, services=services, router=router)
    app.adapters = build_adapters(config, app, console_io or ConsoleIO(), environ)
    app.wire_workers()
    return app


async def run_bot(
    config: Config,
    *,
    once: bool = False,
    db_path: Path | None = None,
    console_io: ConsoleIO | None = None,
) -> None:
    """Run the bot until EOF on the console, SIGINT or SIGTERM (or one pass with `once`)."""
    async with open_database(db_path or config.database_path()) as db:
        app = build_app(config, db, console_io)
        try:
            if once:
                await app.run_once()
            else:
                await _run_until_signalled(app)
        finally:
            await app.close()


async def _run_until_signalled(app: App) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, app.request_stop)
    try:
        await app.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
