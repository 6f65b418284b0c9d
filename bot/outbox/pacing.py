"""Pacing from a platform's published limits, so we never rely on receiving 429s."""

from __future__ import annotations

import time
from collections.abc import Callable

_EPSILON = 1e-9


class Pacer:
    """A global token bucket plus a minimum gap per chat, and a platform-wide pause.

    `rate=None` means no global limit (e.g. a homeserver that exempts the bot).
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
        self._refilled_at = clock()
        self._chat_ready_at: dict[str, float] = {}
        self._paused_until = 0.0

    def interval_for(self, chat_kind: str) -> float:
        return self.private_interval if chat_kind == "private" else self.group_interval

    def _refill(self, now: float) -> None:
        if self.rate is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._refilled_at) * self.rate)
        self._refilled_at = now

    def pause(self, seconds: float) -> None:
        """The platform said to wait: no chat gets anything until then."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self.clock())

    def chat_wait(self, chat_id: str) -> float:
        """Seconds until `chat_id` may receive again (0: now)."""
        return max(0.0, self._chat_ready_at.get(chat_id, 0.0) - self.clock())

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
        return 0.0 if missing <= _EPSILON else missing / self.rate

    def take(self, chat_id: str, chat_kind: str) -> None:
        """Record a send to `chat_id` now (call only when both waits are 0)."""
        now = self.clock()
        if self.rate is not None:
            self._refill(now)
            self._tokens -= 1.0
        interval = self.interval_for(chat_kind)
        if interval > 0:
            self._chat_ready_at[chat_id] = now + interval
            if len(self._chat_ready_at) > 50_000:
                self._chat_ready_at = {c: t for c, t in self._chat_ready_at.items() if t > now}
