"""Several instances on one PostgreSQL database: what must happen once runs as a role.

Each role (a platform's sender, the feed poller, the announcement scheduler,
reconciliation) is a group of background jobs that exactly one live instance runs, the one
holding the role's advisory lock (`bot.storage.roles`). Every instance tries to take the
free roles every `lease / 3` seconds, so a standby takes over within the lease; on taking a
role it first resolves what a dead holder left half done (`on_take`: the outbox's crash
rules for that platform). When the lock connection or the database goes away, the roles'
jobs stop at once (another instance may take them), the loss is logged once, and the roles
are taken again when the database is back (after a lease, so that a standby whose own
connection is healthy gets them first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.storage.roles import RoleLocks

log = logging.getLogger(__name__)

Job = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
STOP_GRACE = 10.0


@dataclass(frozen=True)
class Role:
    """A named group of jobs that one instance at a time runs."""

    name: str
    jobs: Sequence[Job]
    on_take: Callable[[], Awaitable[None]] | None = None


@dataclass
class _Running:
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class Coordinator:
    """Takes free roles for this instance and runs their jobs while it holds them."""

    def __init__(self, locks: RoleLocks, roles: Sequence[Role], *, lease: float = 10.0) -> None:
        self.locks = locks
        self.roles = list(roles)
        self.lease = lease
        self._running: dict[str, _Running] = {}
        self._down = False
        self._wait_until = 0.0  # after losing its roles, standbys get the first chance
        self.storage_ok = asyncio.Event()  # set while the lock connection is up

    @property
    def instance(self) -> str:
        return self.locks.instance

    def held(self) -> list[str]:
        """The roles this instance runs now."""
        return sorted(self._running)

    async def run(self, stop: asyncio.Event) -> None:
        """Hold and run roles until `stop`; then stop their jobs and let the roles go."""
        try:
            while not stop.is_set():
                await self._step()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.lease / 3)
        finally:
            await self._stop_all()
            await self.locks.close()

    @contextlib.asynccontextmanager
    async def free_roles_once(self) -> AsyncIterator[list[str]]:
        """For one pass (`run --once`): take every role no live instance holds, resolve
        what a dead holder left (`on_take`), yield their names, and let them all go after.
        A role another instance holds is left alone, its rows in `sending` included."""
        await self.locks.connect()
        taken: list[str] = []
        try:
            for role in self.roles:
                if await self.locks.try_take(role.name):
                    if role.on_take is not None:
                        await role.on_take()
                    taken.append(role.name)
            yield taken
        finally:
            await self.locks.close()

    async def _step(self) -> None:
        if not await self.locks.alive():
            await self._lost()
            try:
                await self.locks.connect()
            except Exception as exc:
                self._log_down(exc)
                return
        if self._down:
            log.warning("storage is reachable again; taking roles")
            self._down = False
        self.storage_ok.set()
        await self._take_free_roles()

    async def _take_free_roles(self) -> None:
        if time.monotonic() < self._wait_until:
            return
        for role in self.roles:
            running = self._running.get(role.name)
            if running is not None and running.task is not None and running.task.done():
                await self._stop(role.name)  # its jobs ended (a storage error): take it anew
                await self.locks.release(role.name)
                continue
            if running is not None:
                continue
            try:
                if not await self.locks.try_take(role.name):
                    continue
                if role.on_take is not None:
                    await role.on_take()
            except Exception as exc:
                self._log_down(exc)
                await self.locks.release(role.name)
                return
            log.info("instance %s took the %s role", self.instance, role.name)
            self._start(role)

    def _start(self, role: Role) -> None:
        running = _Running()
        running.task = asyncio.ensure_future(self._run_role(role, running.stop))
        self._running[role.name] = running

    async def _run_role(self, role: Role, stop: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                for job in role.jobs:
                    tg.create_task(job(stop))
        except Exception as exc:  # a lost connection, most often: the role is taken anew
            if not stop.is_set():
                self._log_down(exc, role.name)

    def _log_down(self, exc: BaseException, role: str | None = None) -> None:
        self.storage_ok.clear()
        if not self._down:
            self._down = True
            what = f"the {role} role stopped" if role else "roles paused"
            log.warning("storage unreachable (%s): %s until it is back", type(exc).__name__, what)

    async def _lost(self) -> None:
        """The lock connection is gone: so are the roles. Stop their jobs now."""
        if self._running:
            self._log_down(ConnectionError("role connection lost"))
            # A healthy standby takes the roles first; this one only if none does.
            self._wait_until = time.monotonic() + self.lease
        await self._stop_all()
        await self.locks.close()

    async def _stop(self, name: str) -> None:
        running = self._running.pop(name, None)
        if running is None or running.task is None:
            return
        running.stop.set()
        done, _ = await asyncio.wait({running.task}, timeout=STOP_GRACE)
        if not done:
            running.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running.task

    async def _stop_all(self) -> None:
        await asyncio.gather(*(self._stop(name) for name in list(self._running)))
