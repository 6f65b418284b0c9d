"""The composition root: builds every part from the config, in dependency order.

storage (given) → stop event → adapters → wake-up signals → outbox → audience and
delivery workers → services → router → `App`. Each part gets what it needs in its
constructor; nothing is set on a part after it is built. Tests and production both
build with `build_app`. The built bot's lifetime is in `bot.lifecycle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

from bot import __version__, cluster
from bot.announcements import Announcements
from bot.appeals.matching import CampaignMatcher, CampaignRule
from bot.appeals.sending import AppealingAdapter, AppealResolver, AppealSettings
from bot.archive import Archive
from bot.audit import AuditLog
from bot.chat import ChatAdapter
from bot.chat.messenger import Messenger
from bot.config import Config, FeedEntry
from bot.context import Services
from bot.donations import Donations, build_donations
from bot.donations.campaigns import Progress
from bot.donations.changes import CampaignChanges
from bot.feeds.poller import FeedPoller, FeedSettings
from bot.feeds.websub import WebSub
from bot.instances import Job
from bot.lifecycle import App, StartupError, admin_targets, delivery_policy
from bot.outbox import Outbox, WakeSignals
from bot.outbox.audience import Audience, ChannelSpec
from bot.outbox.delivery import DeliveryWorker
from bot.outbox.paid import PaidBroadcast
from bot.people import People
from bot.platforms import ConsoleIO, build_adapters
from bot.privacy import Privacy
from bot.router import CommandRouter
from bot.storage import Database, StorageTarget, open_storage
from bot.storage.notify import Notifier
from bot.storage.postgres import PostgresDatabase
from bot.storage.sqlite_lock import DatabaseInUse, single_instance
from bot.subscriptions import Subscriptions
from bot.web import build_web
from bot.web.health import Health
from bot.web.websub import WebSubRoutes
from handlers import all_commands
from handlers.donations import amount_buttons

__all__ = ["App", "ConsoleIO", "StartupError", "build_app", "offline_audience", "run_bot"]

USER_AGENT = f"outreach-bot/{__version__} (+feed reader of an organisation's chat bot)"


class AdapterNames:
    """The bot's own name on each platform, as its adapter learns it when it starts."""

    def __init__(self, adapters: Mapping[str, ChatAdapter]) -> None:
        self._adapters = adapters

    def __call__(self, platform: str) -> str | None:
        try:
            name = getattr(self._adapters.get(platform), "username", None)
        except RuntimeError:  # the adapter has not started, so it does not know yet
            return None
        return name if isinstance(name, str) and name else None


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
        campaign=feed.campaign,
        interval_with_push=feed.interval_with_push,
    )


def build_audience(
    config: Config, db: Database, outbox: Outbox, clock: Callable[[], float] = time.time
) -> Audience:
    """Who the config's channels and admins are, as outbox targets."""
    channels = {c.name: ChannelSpec(c.name, c.platform, c.chat) for c in config.channels}
    return Audience(
        db, outbox, channels, config.enabled_platforms(), admin_targets(config),
        people_of(config, db), clock=clock, paused_retention=config.bot.paused_retention,
    )  # fmt: skip


def people_of(config: Config, db: Database) -> People:
    """Who reads which language: `[bot] language`, each channel's, each person's choice."""
    languages = {c.name: config.channel_language(c) for c in config.channels}
    return People(db, config.bot.language, languages)


def offline_audience(config: Config, db: Database) -> Audience:
    """For a command that runs no delivery worker (`outreach-bot reconcile`): what it
    enqueues (through `audience.outbox`) waits for the running bot's workers, which
    look again on their own."""
    return build_audience(config, db, Outbox(db, WakeSignals()))


def appeal_resolver(config: Config, donations: Donations) -> AppealResolver:
    """How the Donate button under an article post is made for each chat when sent."""

    async def progress(campaign: str) -> Progress | None:
        rows = await donations.ledger.progress([campaign])
        return rows[0] if rows else None

    settings = AppealSettings(
        campaigns=donations.campaigns,
        amount_rows=amount_buttons,
        progress=progress,
        progress_on_posts=frozenset(c.id for c in config.campaigns if c.progress_on_posts),
        donate_button=config.bot.donate_button,
        public_url=config.web.public_url if config.web.pages else None,
    )
    return AppealResolver(settings)


def build_workers(
    config: Config,
    db: Database,
    adapters: Mapping[str, ChatAdapter],
    *,
    audience: Audience,
    wake: WakeSignals,
    clock: Callable[[], float] = time.time,
    appeals: AppealResolver | None = None,
) -> dict[str, DeliveryWorker]:
    """A delivery worker per adapter, paced by the platform's limits, woken by its signal
    in `wake` (which the outbox sets after a commit); with `appeals`, the articles' Donate
    buttons are made for each chat as it is sent to."""
    return {
        platform: DeliveryWorker(
            db,
            AppealingAdapter(adapter, appeals) if appeals is not None else adapter,
            delivery_policy(platform, config, adapter.limits),
            on_gone=audience.on_gone,
            on_failed=audience.on_failed,
            on_paused=audience.on_paused,
            on_moved=audience.on_moved,
            wake=wake.signal(platform),
            clock=clock,
        )
        for platform, adapter in adapters.items()
    }


def build_services(
    config: Config,
    db: Database,
    outbox: Outbox,
    audience: Audience,
    messenger: Messenger,
    *,
    clock: Callable[[], float],
    environ: Mapping[str, str],
) -> Services:
    """The services handlers use, around the outbox, its audience and the direct sender."""
    websub = None
    if config.web.public_url:
        websub = WebSub(
            db, public_url=config.web.public_url, user_agent=USER_AGENT, clock=clock,
            feeds={f.name: f.allow_private for f in config.feeds},
        )  # fmt: skip
    rules = [CampaignRule(c.id, tuple(c.match), c.active) for c in config.campaigns]
    poller = FeedPoller(
        db, audience, outbox, [feed_settings(f) for f in config.feeds], user_agent=USER_AGENT,
        clock=clock, appeals=CampaignMatcher(rules), push=websub,
    )  # fmt: skip
    feed_topics = {c.casefold(): t for f in config.feeds for c, t in f.topics.items()}
    topics = sorted(set(feed_topics.values()))
    audit = AuditLog(db, clock)
    paid = PaidBroadcast(config.telegram.paid_broadcast, config.telegram.paid_rate)
    announcements = Announcements(
        db, audience, outbox, messenger, audit, [c.name for c in config.channels], topics, clock,
        paid=paid,
    )  # fmt: skip
    donations = (
        build_donations(config, db, audience, outbox, clock=clock, environ=environ)
        if config.campaigns
        else None
    )
    return Services(
        config=config,
        db=db,
        audience=audience,
        outbox=outbox,
        poller=poller,
        subscriptions=Subscriptions(db, topics, clock),
        archive=Archive(db, feed_topics),
        messenger=messenger,
        audit=audit,
        announcements=announcements,
        privacy=Privacy(db),
        people=audience.people,
        clock=clock,
        donations=donations,
        websub=websub,
    )


def build_app(
    config: Config,
    db: Database,
    console_io: ConsoleIO | None = None,
    environ: Mapping[str, str] = os.environ,
    *,
    adapters: Mapping[str, ChatAdapter] | None = None,
    clock: Callable[[], float] = time.time,
) -> App:
    """The whole bot from its config, each part built once, in dependency order.

    `adapters` replaces the ones the config would make (tests bring stand-ins);
    `clock` is the wall clock of the services and the delivery workers.
    """
    stop = asyncio.Event()
    if adapters is None:
        adapters = build_adapters(
            config, db, on_eof=stop.set, console_io=console_io or ConsoleIO(), environ=environ
        )
    wake = WakeSignals()
    # On PostgreSQL an enqueue also wakes the sender role's holder on another instance.
    notifier, outbox_wake = cluster.prepare(db, wake) if isinstance(db, PostgresDatabase) else (
        None, wake,
    )  # fmt: skip
    outbox = Outbox(db, outbox_wake, clock=clock)
    audience = build_audience(config, db, outbox, clock)
    services = build_services(
        config, db, outbox, audience, Messenger(adapters), clock=clock, environ=environ
    )
    appeals = appeal_resolver(config, services.donations) if services.donations else None
    workers = build_workers(
        config, db, adapters, audience=audience, wake=wake, clock=clock, appeals=appeals
    )
    router = CommandRouter(
        services, all_commands(services.donations), bot_names=AdapterNames(adapters)
    )
    coordination = None
    if notifier is not None and isinstance(db, PostgresDatabase):
        coordination = _coordination(
            config, db, notifier, services, workers, wake=wake, clock=clock
        )
    web = build_web(
        config.web, services.donations, archive=services.archive, clock=clock,
        health=Health(db, config.instance_name(), _roles_of(coordination, adapters)),
        websub=WebSubRoutes(services.websub, services.poller) if services.websub else None,
    )  # fmt: skip
    return App(config, services, router, adapters, workers, stop, web, coordination)


def _coordination(
    config: Config,
    db: PostgresDatabase,
    notifier: Notifier,
    services: Services,
    workers: Mapping[str, DeliveryWorker],
    *,
    wake: WakeSignals,
    clock: Callable[[], float],
) -> cluster.Coordination:
    """Several instances on PostgreSQL: which jobs go with which role."""
    # The hub's callbacks reach every instance's web server; renewals go with the feeds.
    websub_jobs: list[Job] = [services.websub.run] if services.websub else []
    role_jobs: dict[str, list[Job]] = {
        cluster.FEEDS: [services.poller.run, *websub_jobs],
        cluster.ANNOUNCEMENTS: [services.announcements.run],
        cluster.RECONCILIATION: (services.donations.jobs() if services.donations else []),
    }
    coordination = cluster.coordination_for(
        config, db, notifier, workers, role_jobs, wake=wake, clock=clock
    )
    if services.donations is not None:  # payments on any instance move every page
        coordination.on_ledger_change(partial(_ledger_changed, services.donations.changes))
    return coordination


def _ledger_changed(changes: CampaignChanges, campaign: str) -> None:
    changes.publish([campaign or None])


def _roles_of(
    coordination: cluster.Coordination | None, adapters: Mapping[str, ChatAdapter]
) -> Callable[[], list[str]]:
    """What this instance runs: its roles on PostgreSQL; everything on SQLite."""
    if coordination is not None:
        return coordination.coordinator.held
    everything = sorted([*adapters, cluster.FEEDS, cluster.ANNOUNCEMENTS, cluster.RECONCILIATION])
    return lambda: everything


async def run_bot(
    config: Config,
    *,
    once: bool = False,
    db_path: Path | None = None,
    console_io: ConsoleIO | None = None,
) -> None:
    """Run the bot until EOF on the console, SIGINT or SIGTERM (or one pass with `once`)."""
    target = config.storage_target()
    if db_path is not None:
        target = StorageTarget(db_path)
    with contextlib.ExitStack() as hold:
        if not target.is_postgres:
            try:
                hold.enter_context(single_instance(target.path))
            except DatabaseInUse as exc:
                raise StartupError(str(exc)) from None
        await _run_on(config, target, once=once, console_io=console_io)


async def _run_on(
    config: Config, target: StorageTarget, *, once: bool, console_io: ConsoleIO | None
) -> None:
    async with open_storage(target) as db:
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
