"""The delivery worker: claims outbox rows for one platform and sends them, paced."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.chat import (
    ChatAdapter,
    ChatGone,
    ChatKind,
    ChatRef,
    MaybeDelivered,
    RateLimited,
    Rejected,
    SentRef,
    Transient,
)
from bot.chat.codec import post_from_json
from bot.outbox.pacing import Pacer
from bot.outbox.wake import WakeSignal
from bot.storage import Database
from bot.storage import outbox as q

log = logging.getLogger(__name__)

RowCallback = Callable[[q.DeliveryRow, str], Awaitable[None]]

_BATCH_MAX_AGE = 1.0  # seconds a read-ahead batch of due rows is used before a fresh read


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How a platform's uncertain sends and failures are treated."""

    resend_uncertain: bool  # re-send after MaybeDelivered / a crash mid-send
    concurrency: int = 8
    max_attempts: int = 6
    base_backoff: float = 5.0
    max_backoff: float = 600.0
    batch: int = 200


async def _ignore(row: q.DeliveryRow, detail: str) -> None:
    return None


class DeliveryWorker:
    """Delivers one platform's pending rows until told to stop.

    `on_gone` is called when a chat no longer takes our messages, `on_failed`
    when a row is given up. Both receive the row and a short reason. `wake` is
    this platform's signal, which the outbox sets after a commit that queued rows
    for it (made before the worker, so the services that enqueue need not know the
    workers); the worker's own if not given.
    """

    def __init__(
        self,
        db: Database,
        adapter: ChatAdapter,
        pacer: Pacer,
        policy: DeliveryPolicy,
        *,
        on_gone: RowCallback = _ignore,
        on_failed: RowCallback = _ignore,
        wake: WakeSignal | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.adapter = adapter
        self.platform = adapter.platform
        self.pacer = pacer
        self.policy = policy
        self.on_gone = on_gone
        self.on_failed = on_failed
        self.clock = clock
        self._signal = wake if wake is not None else WakeSignal()
        self._wake = self._signal.event
        self._in_flight: set[str] = set()
        self._slots = asyncio.Semaphore(policy.concurrency)
        # Due rows read ahead: between two paced sends there is no new query, only when
        # the batch is used up, older than _BATCH_MAX_AGE, or something was (re)queued.
        self._batch: list[q.DeliveryRow] = []
        self._batch_read_at = -math.inf
        self._stale = True

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; sends in flight are finished before returning."""
        async with asyncio.TaskGroup() as tg:
            while not stop.is_set():
                # Cleared before looking for work: a wake() during the look is not lost.
                self._wake.clear()
                wait = await self._dispatch_ready(tg, stop)
                await self._sleep(wait, stop)

    async def drain(self, *, horizon: float = 30.0, limit: float = 300.0) -> None:
        """Deliver until nothing is due within `horizon` seconds (or `limit` passes)."""
        stop = asyncio.Event()
        deadline = self.clock() + limit
        async with asyncio.TaskGroup() as tg:
            while self.clock() < deadline:
                self._wake.clear()
                wait = await self._dispatch_ready(tg, stop)
                if not self._in_flight and await self._nothing_due_within(horizon):
                    break
                await self._sleep(min(wait, 0.5), stop)

    async def _nothing_due_within(self, horizon: float) -> bool:
        due = await q.next_due_at(self.db, self.platform)
        return due is None or due > self.clock() + horizon

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        if seconds <= 0 or stop.is_set():
            return
        waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def _due_rows(self) -> list[q.DeliveryRow]:
        """The due rows to look at: the batch read ahead, or a fresh read when it may be stale."""
        now = time.monotonic()
        queued = self._signal.take_queued()
        if queued or self._stale or not self._batch or now - self._batch_read_at > _BATCH_MAX_AGE:
            self._stale = False
            self._batch_read_at = now
            self._batch = await q.due_rows(self.db, self.platform, self.clock(), self.policy.batch)
        return self._batch

    async def _dispatch_ready(self, tg: asyncio.TaskGroup, stop: asyncio.Event) -> float:
        """Start every send that pacing allows now; return how long to wait for the next."""
        rows = await self._due_rows()
        if not rows:
            due = await q.next_due_at(self.db, self.platform)
            return 60.0 if due is None else max(0.05, due - self.clock())
        wait = 60.0
        done: set[int] = set()
        try:
            for row in rows:
                if stop.is_set():
                    break
                if row.chat_id in self._in_flight:
                    continue  # one message at a time per chat keeps the order
                chat_wait = self.pacer.chat_wait(row.chat_id)
                if chat_wait > 0:
                    wait = min(wait, chat_wait)
                    continue
                global_wait = self.pacer.global_wait()
                if global_wait > 0:
                    return global_wait
                await self._slots.acquire()
                # The claim (a durable write before the send) happens in the send's own
                # task: waiting for it here would stretch every paced interval by its latency.
                self.pacer.take(row.chat_id, row.chat_kind, tracked=True)
                done.add(row.id)
                self._in_flight.add(row.chat_id)
                tg.create_task(self._deliver(row))
        finally:
            if done:
                self._batch = [r for r in self._batch if r.id not in done]
        self._stale = True  # every row left is waiting for its chat: look further next time
        return wait if not self._in_flight else min(wait, 0.05)

    async def _deliver(self, row: q.DeliveryRow) -> None:
        claimed = answered = False

        def answer() -> None:
            """The platform answered (or the call failed): its slot is free for the next send
            while the outcome is written, and the send cannot arrive any later than now."""
            nonlocal answered
            if not answered:
                answered = True
                self.pacer.landed(row.chat_id, row.chat_kind)
                self._slots.release()
                self._wake.set()

        try:
            claimed = await q.claim(self.db, row.id, self.clock())
            if claimed:  # else another worker took it, or it was cancelled meanwhile
                await self._attempt(row, answer)
        finally:
            if claimed:
                answer()
            else:
                self.pacer.give_back(row.chat_id, tracked=True)
                self._slots.release()
            self._in_flight.discard(row.chat_id)
            self._wake.set()

    async def _attempt(self, row: q.DeliveryRow, answered: Callable[[], None]) -> None:
        chat = ChatRef(self.platform, row.chat_id, ChatKind(row.chat_kind))
        attempts = row.attempts + 1
        try:
            try:
                post = post_from_json(row.post_json)
                if row.action == "edit":
                    assert row.message_id is not None
                    await self.adapter.edit(SentRef(chat, row.message_id), post)
                    message_id = row.message_id
                else:
                    message_id = (await self.adapter.send(chat, post, key=row.key)).message_id
            finally:
                answered()
        except RateLimited as exc:
            self._stale = True  # the row goes back to pending, ahead of the batch read
            self.pacer.pause(exc.retry_after)
            log.warning("%s asked us to wait %.1fs", self.platform, exc.retry_after)
            # The pause holds every send; keeping the row's due time keeps its place in line.
            await q.retry_later(
                self.db, row.id, row.next_attempt_at, now=self.clock(), error="rate limited",
                count=False,
            )  # fmt: skip
        except ChatGone as exc:
            await self._gone(row, str(exc) or "chat gone")
        except MaybeDelivered as exc:
            if self.policy.resend_uncertain:
                await self._retry(row, attempts, f"maybe delivered: {exc}")
            else:
                await q.finish(self.db, row.id, q.UNKNOWN, now=self.clock(), error=str(exc))
        except Transient as exc:
            await self._retry(row, attempts, f"transient: {exc}")
        except Rejected as exc:
            await self._fail(row, f"rejected: {exc}")
        except Exception as exc:
            log.exception("delivery %s on %s raised unexpectedly", row.id, self.platform)
            await self._fail(row, f"unexpected error: {type(exc).__name__}")
        else:
            await q.finish(self.db, row.id, q.SENT, now=self.clock(), message_id=message_id)

    async def _retry(self, row: q.DeliveryRow, attempts: int, error: str) -> None:
        if attempts >= self.policy.max_attempts:
            await self._fail(row, f"gave up after {attempts} attempts ({error})")
            return
        backoff = min(self.policy.max_backoff, self.policy.base_backoff * 2 ** (attempts - 1))
        now = self.clock()
        await q.retry_later(
            self.db, row.id, now + backoff * random.uniform(0.8, 1.2), now=now, error=error
        )

    async def _fail(self, row: q.DeliveryRow, error: str) -> None:
        log.warning("delivery %s on %s failed: %s", row.id, self.platform, error)
        await q.finish(self.db, row.id, q.FAILED, now=self.clock(), error=error)
        with contextlib.suppress(Exception):
            await self.on_failed(row, error)

    async def _gone(self, row: q.DeliveryRow, reason: str) -> None:
        now = self.clock()
        await q.finish(self.db, row.id, q.GONE, now=now, error=reason)
        await q.end_chat(self.db, self.platform, row.chat_id, now)
        log.info("a %s chat on %s is gone; its deliveries stop", row.chat_kind, self.platform)
        try:
            await self.on_gone(row, reason)
        except Exception:
            log.exception("handling a gone chat failed")
