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
    CannotPostNow,
    ChatAdapter,
    ChatGone,
    ChatKind,
    ChatMoved,
    ChatRef,
    MaybeDelivered,
    RateLimited,
    Rejected,
    SentRef,
    Transient,
)
from bot.chat.codec import post_from_json
from bot.outbox.commits import DeliveryWrites
from bot.outbox.wake import WakeSignal
from bot.storage import Database
from bot.storage import outbox as q

log = logging.getLogger(__name__)

RowCallback = Callable[[q.DeliveryRow, str], Awaitable[None]]
# (platform, old chat id, new chat id): a chat moved, what refers to it must follow.
MoveCallback = Callable[[str, str, str], Awaitable[None]]

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
    paused_retention: float = 3 * 86400.0  # how long rows wait for a paused chat
    paused_recheck: float = 900.0  # how often a paused chat is tried again


async def _ignore_move(platform: str, old_id: str, new_id: str) -> None:
    return None


async def _ignore(row: q.DeliveryRow, detail: str) -> None:
    return None


class DeliveryWorker:
    """Delivers one platform's pending rows until told to stop.

    Every API call takes a token from the adapter's own pacer (`adapter.pacing`); the
    worker only looks at it to start no more sends than it would let through, and holds
    back while a reply to a person waits in its priority lane.

    `on_gone` is called when a chat no longer takes our messages, `on_paused` when it
    cannot take them now (its rows wait, up to `policy.paused_retention`), `on_failed`
    when a row is given up; each receives the row and a short reason. `on_moved` is
    called when a chat lives under a new id (after its rows were moved). `wake` is
    this platform's signal, which the outbox sets after a commit that queued rows
    for it (made before the worker, so the services that enqueue need not know the
    workers); the worker's own if not given.
    """

    def __init__(
        self,
        db: Database,
        adapter: ChatAdapter,
        policy: DeliveryPolicy,
        *,
        on_gone: RowCallback = _ignore,
        on_failed: RowCallback = _ignore,
        on_paused: RowCallback = _ignore,
        on_moved: MoveCallback = _ignore_move,
        wake: WakeSignal | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.adapter = adapter
        self.platform = adapter.platform
        self.gate = adapter.pacing
        self.pacer = adapter.pacing.pacer
        self.policy = policy
        self.on_gone = on_gone
        self.on_failed = on_failed
        self.on_paused = on_paused
        self.on_moved = on_moved
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
        self._writes = DeliveryWrites(db, clock=clock)

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
                if self.gate.urgent_waiting():
                    return 0.01  # a person's reply goes first
                await self._slots.acquire()
                # The claim (a durable write before the send) happens in the send's own
                # task: waiting for it here would stretch every paced interval by its latency.
                # The send's calls take their tokens at the adapter's pacer.
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
            while the outcome is written."""
            nonlocal answered
            if not answered:
                answered = True
                self._slots.release()
                self._wake.set()

        try:
            claimed = await self._writes.claim(row.id)
            if claimed:  # else another worker took it, or it was cancelled meanwhile
                await self._attempt(row, answer)
        finally:
            if claimed:
                answer()
            else:
                self._slots.release()
            self._in_flight.discard(row.chat_id)
            self._wake.set()

    async def _call(self, row: q.DeliveryRow) -> SentRef:
        chat = ChatRef(self.platform, row.chat_id, ChatKind(row.chat_kind))
        post = post_from_json(row.post_json)
        if row.action == "edit":
            assert row.message_id is not None
            sent = SentRef(chat, row.message_id, row.form)
            return await self.adapter.edit(sent, post, key=row.key)  # an edit row has its own id
        return await self.adapter.send(chat, post, key=row.key)

    async def _attempt(self, row: q.DeliveryRow, answered: Callable[[], None]) -> None:
        attempts = row.attempts + 1
        try:
            try:
                sent = await self._call(row)
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
        except CannotPostNow as exc:
            await self._paused(row, str(exc) or "cannot post now")
        except ChatMoved as exc:
            await self._moved(row, exc.new_id)
            await self._fail(row, "the chat moved; the message stayed in the old chat")
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
            await self._sent(row, sent)

    async def _sent(self, row: q.DeliveryRow, sent: SentRef) -> None:
        # Committed with the next claim (bot/outbox/commits.py): one transaction for many.
        await self._writes.finish(q.Outcome(row.id, q.SENT, sent.message_id, form=sent.form))
        if row.action == "edit" and sent.form != row.form:
            await q.record_form(self.db, row, sent.form)
        if sent.chat.id != row.chat_id:
            await self._moved(row, sent.chat.id)

    async def _moved(self, row: q.DeliveryRow, new_id: str) -> None:
        """The chat has a new id: its rows (sent ones too) and what refers to it follow."""
        log.info(
            "a %s chat on %s has a new id; its deliveries follow", row.chat_kind, self.platform
        )
        await q.move_chat(self.db, self.platform, row.chat_id, new_id)
        self._stale = True
        try:
            await self.on_moved(self.platform, row.chat_id, new_id)
        except Exception:
            log.exception("handling a moved chat failed")

    async def _paused(self, row: q.DeliveryRow, reason: str) -> None:
        """The chat cannot take posts now: its rows wait (not the platform's other chats),
        and are given up once older than the retention."""
        now = self.clock()
        if now - row.created_at > self.policy.paused_retention:
            await self._fail(row, f"paused for too long: {reason}")
            return
        until = now + self.policy.paused_recheck
        await q.retry_later(self.db, row.id, until, now=now, error=reason, count=False)
        await q.delay_chat(self.db, self.platform, row.chat_id, until, now)
        self._stale = True
        log.info("a %s chat on %s cannot take posts now", row.chat_kind, self.platform)
        try:
            await self.on_paused(row, reason)
        except Exception:
            log.exception("handling a paused chat failed")

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
