"""How the outbox tells a platform's delivery worker that rows are waiting."""

from __future__ import annotations

import asyncio
from typing import Protocol


class Wake(Protocol):
    """Called after a commit that queued rows for `platform`: its worker should look now."""

    def __call__(self, platform: str) -> None: ...


class WakeSignal:
    """One platform's signal: an event its worker sleeps on, and whether rows were queued
    since the worker last looked (its read-ahead batch is then stale)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self._queued = False

    def set(self) -> None:
        self._queued = True
        self.event.set()

    def take_queued(self) -> bool:
        """Whether rows were queued since the last call."""
        queued, self._queued = self._queued, False
        return queued


class WakeSignals:
    """The `Wake` the composition root builds first: the outbox sets a platform's signal,
    and the platform's worker, built later, is given that signal."""

    def __init__(self) -> None:
        self._signals: dict[str, WakeSignal] = {}

    def __call__(self, platform: str) -> None:
        self.signal(platform).set()

    def platforms(self) -> list[str]:
        """Every platform with a signal (each worker's, once built)."""
        return list(self._signals)

    def signal(self, platform: str) -> WakeSignal:
        """The platform's signal (the same object every time)."""
        return self._signals.setdefault(platform, WakeSignal())
