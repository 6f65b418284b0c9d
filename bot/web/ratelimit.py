"""A per-client sliding-window limit for the donate form (payment pages cost the provider calls)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_CLIENTS = 10_000  # remembered at most; the oldest are forgotten first


class ClientRateLimit:
    """At most `limit` requests per client in any `window` seconds."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}

    def allow(self, client: str) -> bool:
        """Count one request from `client`; False when it is over the limit (not counted)."""
        now = self.clock()
        stamps = self._seen.pop(client, None) or deque()
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        allowed = len(stamps) < self.limit
        if allowed:
            stamps.append(now)
        if stamps:
            self._seen[client] = stamps  # re-inserted: the dict stays in least-recent order
        while len(self._seen) > MAX_CLIENTS:
            del self._seen[next(iter(self._seen))]
        return allowed

    def retry_after(self, client: str) -> int:
        """Whole seconds until `client` may try again."""
        stamps = self._seen.get(client)
        if not stamps:
            return 0
        return max(1, int(stamps[0] + self.window - self.clock()) + 1)
