"""Pacing from a platform's published limits, so we never rely on receiving 429s.

`Pacer` holds one platform's budget; `CallGate` is the door every API call of
that platform passes (sends, edits, pins, a photo's text follow-up), with a
priority lane for what a person is waiting for (`urgent()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar

_EPSILON = 1e-9
WINDOW = 1.0  # seconds: platforms state their global limit as messages per second
# How late a sender may come for its turn without losing it. A worker woken a little
# late (the event loop was busy) may catch up by this much; the rolling-window count
# still holds the limit. Without it, 0.5 ms of lateness per send costs 15% at 300/s.
CATCH_UP = 0.010


class Pacer:
    """A global token bucket plus a minimum gap per chat, and a platform-wide pause.

    `rate=None` means no global limit (e.g. a homeserver that exempts the bot).

    The bucket spaces departures evenly; a sender that comes up to CATCH_UP late
    for its turn does not lose it. The limit itself is held by counting: no more
    than the bucket lets through in one rolling second (`ceil(burst + rate) - 1`)
    may count within the last second. The platform counts arrivals, and a send
    arrives some time between leaving and being answered, so a send taken with
    `tracked=True` counts as arriving now (whenever "now" is) until `landed()` is
    called for it, and after that at the moment it was answered; a chat's own gap
    runs from that answer too. However late requests are answered or however
    unevenly the network delays them, the platform never sees more in one second
    than the limit allows.
    """

    def __init__(
        self,
        *,
        rate: float | None,
        burst: float = 1.0,
        group_interval: float = 0.0,
        private_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.group_interval = group_interval
        self.private_interval = private_interval
        self.clock = clock
        self._tokens = self.burst
        self._capacity = self.burst + (0.0 if rate is None else rate * CATCH_UP)
        self._refilled_at = clock()
        self._chat_ready_at: dict[str, float] = {}
        self._paused_until = 0.0
        # Most sends that may arrive within one rolling second (None: no global limit).
        self._per_window = None if rate is None else max(1, math.ceil(self.burst + rate) - 1)
        self._arrived: deque[float] = deque()  # latest arrival time of each recent send
        self._flying = 0  # tracked sends not answered yet: they may arrive at any moment

    def interval_for(self, chat_kind: str) -> float:
        return self.private_interval if chat_kind == "private" else self.group_interval

    def _refill(self, now: float) -> None:
        if self.rate is not None:
            self._tokens = min(self._capacity, self._tokens + (now - self._refilled_at) * self.rate)
        self._refilled_at = now

    def pause(self, seconds: float) -> None:
        """The platform said to wait: no chat gets anything until then."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self.clock())

    def chat_wait(self, chat_id: str) -> float:
        """Seconds until `chat_id` may receive again (0: now)."""
        return max(0.0, self._chat_ready_at.get(chat_id, 0.0) - self.clock())

    def _window_wait(self, now: float) -> float:
        """Seconds until one more send cannot make the last rolling second hold too many."""
        if self._per_window is None:
            return 0.0
        arrived = self._arrived
        while arrived and now - arrived[0] >= WINDOW - _EPSILON:
            arrived.popleft()
        over = self._flying + len(arrived) - self._per_window + 1
        if over <= 0:
            return 0.0
        if over > len(arrived):
            return WINDOW  # only an answer frees a place; the caller is woken by it
        return max(_EPSILON, arrived[over - 1] + WINDOW - now)

    def global_wait(self) -> float:
        """Seconds until the platform may take one more message (0: now)."""
        now = self.clock()
        paused = self._paused_until - now
        if paused > 0:
            return paused
        if self.rate is None:
            return 0.0
        self._refill(now)
        missing = 1.0 - self._tokens
        # Tolerate float rounding: waiting exactly the computed time must be enough.
        bucket = 0.0 if missing <= _EPSILON else missing / self.rate
        return max(bucket, self._window_wait(now))

    def take(self, chat_id: str, chat_kind: str, *, tracked: bool = False) -> None:
        """Record a send to `chat_id` now (call only when both waits are 0).

        With `tracked`, call `landed` (or `give_back`) for it once it is answered.
        """
        now = self.clock()
        if self.rate is not None:
            self._refill(now)
            self._tokens -= 1.0
            if tracked:
                self._flying += 1
            else:
                self._arrived.append(now)
        interval = self.interval_for(chat_kind)
        if interval > 0:
            self._chat_ready_at[chat_id] = now + interval
            if len(self._chat_ready_at) > 50_000:
                self._chat_ready_at = {c: t for c, t in self._chat_ready_at.items() if t > now}

    def landed(self, chat_id: str, chat_kind: str) -> None:
        """A tracked send was answered (or failed): it arrived by now, if at all."""
        now = self.clock()
        if self.rate is not None:
            self._flying = max(0, self._flying - 1)
            self._arrived.append(now)
        interval = self.interval_for(chat_kind)
        if interval > 0:
            self._chat_ready_at[chat_id] = now + interval

    def give_back(self, chat_id: str, *, tracked: bool = False) -> None:
        """Undo the last `take` for `chat_id`: nothing was sent after all."""
        if self.rate is not None:
            self._refill(self.clock())
            self._tokens = min(self._capacity, self._tokens + 1.0)
            if tracked:
                self._flying = max(0, self._flying - 1)
            elif self._arrived:
                self._arrived.pop()
        self._chat_ready_at.pop(chat_id, None)


_URGENT: ContextVar[bool] = ContextVar("urgent_call", default=False)
_IDLE_WAIT = 1.0  # the longest sleep between two looks while someone else is ahead


@contextlib.contextmanager
def urgent() -> Iterator[None]:
    """Calls made inside go through the priority lane: a reply to a person, a live edit.

    A context variable rather than a parameter, so that every call an adapter makes
    for one reply (a photo, then its text) is urgent without the adapter knowing why.
    """
    token = _URGENT.set(True)
    try:
        yield
    finally:
        _URGENT.reset(token)


def is_urgent() -> bool:
    return _URGENT.get()


class CallGate:
    """One platform's door: every API call takes a token from its `Pacer` here.

    Two lanes, each first come first served: while an urgent call waits, no call of
    the bulk lane takes a token, so a reply waits at most one pacing slot however
    large the fan-out. A call's chat gap is waited out before it queues, so a call
    for a busy chat never holds up the others. A call that the platform answers with
    a flood wait (any exception with `retry_after`) pauses the whole platform.
    """

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer
        # Each waiter has its own event, set when it may be first in line: a change wakes
        # the head of each lane only, not every waiter (a fan-out keeps dozens waiting).
        self._lanes: dict[bool, deque[asyncio.Event]] = {True: deque(), False: deque()}

    @classmethod
    def unlimited(cls) -> CallGate:
        return cls(Pacer(rate=None))

    def urgent_waiting(self) -> bool:
        """An urgent call is waiting: bulk senders should hold back."""
        return bool(self._lanes[True])

    @contextlib.asynccontextmanager
    async def call(self, chat_id: str, chat_kind: str) -> AsyncIterator[None]:
        """Wait for this call's turn, make it inside, and count it as arrived when answered."""
        await self._turn(chat_id, chat_kind)
        try:
            yield
        except Exception as exc:
            wait = getattr(exc, "retry_after", None)
            if isinstance(wait, dt.timedelta):
                wait = wait.total_seconds()
            if isinstance(wait, int | float) and wait > 0:
                self.pacer.pause(float(wait))
            raise
        finally:
            self.pacer.landed(chat_id, chat_kind)
            self._notify()

    async def _turn(self, chat_id: str, chat_kind: str) -> None:
        lane = is_urgent()
        while True:
            chat_wait = self.pacer.chat_wait(chat_id)
            if chat_wait > 0:
                await asyncio.sleep(chat_wait)
                continue
            if await self._queue(lane, chat_id):
                self.pacer.take(chat_id, chat_kind, tracked=True)
                return

    async def _queue(self, lane: bool, chat_id: str) -> bool:
        """Wait in `lane` until a global token is free for us; False if the chat got busy."""
        me = asyncio.Event()
        queue = self._lanes[lane]
        queue.append(me)
        try:
            while True:
                if self.pacer.chat_wait(chat_id) > 0:
                    return False
                ahead = queue[0] is not me or (not lane and bool(self._lanes[True]))
                wait = _IDLE_WAIT if ahead else self.pacer.global_wait()
                if wait <= 0:
                    return True
                me.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await me.wait()
        finally:
            queue.remove(me)
            self._notify()

    def _notify(self) -> None:
        """Something changed (a call answered, a waiter left): the heads look again."""
        for queue in self._lanes.values():
            if queue:
                queue[0].set()
