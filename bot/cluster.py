"""Wiring for several instances on PostgreSQL: roles, wake-ups and ledger news between them.

Part of the composition root: `bot.app.build_app` calls `coordination_for` when the
database is PostgreSQL; on SQLite there is one instance and none of this runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.chat import ChatAdapter, ReceivesInRole
from bot.cluster_takeover import Takeover, former_holder_quiet_after
from bot.config import Config
from bot.instances import Coordinator, Job, Role
from bot.outbox.delivery import DeliveryWorker
from bot.outbox.wake import Wake, WakeSignal, WakeSignals
from bot.storage.notify import OUTBOX, Notifier
from bot.storage.postgres import PostgresDatabase
from bot.storage.roles import FencedDatabase, RoleLocks

# The roles, in the order an instance takes them; each platform's sender is a role too.
FEEDS = "feeds"
ANNOUNCEMENTS = "announcements"
RECONCILIATION = "reconciliation"


class PublishingWake:
    """The outbox's `Wake` on PostgreSQL: this instance's worker now, and every other
    instance's (the role holder's) through NOTIFY."""

    def __init__(self, local: WakeSignals, notifier: Notifier) -> None:
        self._local = local
        self._notifier = notifier

    def __call__(self, platform: str) -> None:
        self._local(platform)
        self._notifier.publish(OUTBOX, platform)


@dataclass
class Coordination:
    """This instance's part in a group of instances: its roles and its listener."""

    coordinator: Coordinator
    notifier: Notifier

    @property
    def instance(self) -> str:
        return self.coordinator.instance

    def held(self) -> list[str]:
        """The roles this instance holds now."""
        return self.coordinator.held()

    def jobs(self) -> list[Job]:
        return [self.coordinator.run, self.notifier.run]

    def on_ledger_change(self, callback: Callable[[str], None]) -> None:
        """Call `callback(campaign)` when any instance appends to the ledger (for SSE)."""
        self.notifier.on_ledger_change(callback)

    async def aclose(self) -> None:
        await self.notifier.aclose()


def prepare(db: PostgresDatabase, local: WakeSignals) -> tuple[Notifier, Wake]:
    """The notifier and the outbox's wake, before the outbox is built."""
    notifier = Notifier(db)

    def heard(platform: str) -> None:
        for name in local.platforms() if platform == "*" else [platform]:
            local(name)

    notifier.subscribe(OUTBOX, heard)
    return notifier, PublishingWake(local, notifier)


def coordination_for(
    config: Config,
    db: PostgresDatabase,
    notifier: Notifier,
    workers: Mapping[str, DeliveryWorker],
    services_jobs: Mapping[str, list[Job]],
    *,
    wake: WakeSignals,
    clock: Callable[[], float] = time.time,
) -> Coordination:
    """Roles for every worker (one per platform) and for the services' own jobs."""
    locks = RoleLocks(db, config.instance_name())
    roles = []
    for platform, worker in workers.items():
        takeover = Takeover(
            db, platform, locks.instance, resend=worker.policy.resend_uncertain, wake=wake,
            settle_after=former_holder_quiet_after(config.storage.lease), clock=clock,
        )  # fmt: skip
        fenced = FencedDatabase(db, locks, platform)
        sender = _fresh_worker(worker, fenced, wake.signal(platform), takeover)
        jobs = [sender, takeover.settle, *_receiving(worker.adapter)]
        roles.append(Role(platform, jobs, takeover.on_take))
    roles += [Role(name, jobs) for name, jobs in services_jobs.items() if jobs]
    return Coordination(Coordinator(locks, roles, lease=config.storage.lease), notifier)


def _receiving(adapter: ChatAdapter) -> list[Job]:
    """The platform's receiving, when only one instance at a time may do it (Telegram's
    long polling; a webhook is served by every instance)."""
    if isinstance(adapter, ReceivesInRole) and adapter.receives_in_role:
        return [adapter.receive]
    return []


def _fresh_worker(
    worker: DeliveryWorker, db: FencedDatabase, signal: WakeSignal, takeover: Takeover
) -> Job:
    """Run a new worker like `worker` each time the role is taken: a worker whose run was
    cut short (a lost connection) may keep sends it had counted as in flight. Its claims
    go through `db`, fenced by the role's lock; after a takeover from another instance it
    starts once the platform's rolling window has passed (`Takeover.first_send_after`)."""

    async def run(stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), takeover.first_send_after)
        if stop.is_set():
            return
        fresh = DeliveryWorker(
            db, worker.adapter, worker.policy, on_gone=worker.on_gone,
            on_failed=worker.on_failed, on_paused=worker.on_paused, on_moved=worker.on_moved,
            wake=signal, clock=worker.clock,
        )  # fmt: skip
        await fresh.run(stop)

    return run
