"""Reconciliation: read the payment service's event list and feed the ledger.

For deployments without a public URL for webhooks (and as `outreach-bot
reconcile`). The cursor (the newest event id handled) is kept in bot_state and
moved after each page, so a restart resumes where it stopped; the ledger is
idempotent, so reading an event twice changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.donations.providers import ProviderError
from bot.storage import Database
from bot.storage.state import get_state, set_state

log = logging.getLogger(__name__)

CURSOR_KEY = "stripe.events_cursor"
CATCH_UP_CURSOR_KEY = "stripe.catch_up_cursor"
PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class EventsPage:
    """One page of events, newest first, as the payment service lists them."""

    events: list[dict[str, Any]]
    has_more: bool


class UnknownCursor(ProviderError):
    """The service no longer knows the cursor event (Stripe keeps events for 30 days)."""


class EventSource(Protocol):
    async def events_page(
        self,
        *,
        ending_before: str | None = None,
        starting_after: str | None = None,
        limit: int = PAGE_SIZE,
        types: Sequence[str] = (),
        delivery_success: bool | None = None,
    ) -> EventsPage:
        """A page of events: with `ending_before`, the ones just newer than that event;
        with `delivery_success=False`, only those a webhook delivery failed for."""
        ...


@dataclass(frozen=True, slots=True)
class PassResult:
    events: int
    new_entries: int


ApplyEvent = Callable[[Mapping[str, Any]], Awaitable[int]]


class Reconciler:
    """Feeds every event after the cursor, oldest first, to `apply` (which returns new entries).

    As the catch-up pass of a bot that takes webhooks (`failed_deliveries_only`), it reads
    only the events Stripe failed to deliver, with a cursor of its own: Stripe stops
    retrying after about three days, and what it gave up on would be lost.
    """

    def __init__(
        self,
        db: Database,
        source: EventSource,
        apply: ApplyEvent,
        *,
        types: Sequence[str],
        interval: float = 60.0,
        page_size: int = PAGE_SIZE,
        failed_deliveries_only: bool = False,
    ) -> None:
        self.db = db
        self.failed_only = failed_deliveries_only
        self.cursor_key = CATCH_UP_CURSOR_KEY if failed_deliveries_only else CURSOR_KEY
        self.page_size = page_size
        self.source = source
        self.apply = apply
        self.types = tuple(types)
        self.interval = interval

    async def pass_once(self) -> PassResult:
        """Read and apply everything new since the cursor. Raises ProviderError."""
        cursor = await get_state(self.db, self.cursor_key)
        if cursor is not None:
            try:
                return await self._forward(cursor)
            except UnknownCursor:
                log.warning("the saved event cursor is unknown to Stripe; reading every event")
        return await self._from_the_start()

    async def _apply_all(self, events: Sequence[Mapping[str, Any]]) -> int:
        new = 0
        for event in events:
            new += await self.apply(event)
        return new

    async def _forward(self, cursor: str) -> PassResult:
        seen = new = 0
        while True:
            page = await self.source.events_page(
                ending_before=cursor,
                limit=self.page_size,
                types=self.types,
                delivery_success=False if self.failed_only else None,
            )
            if not page.events:
                break
            ordered = list(reversed(page.events))  # oldest first
            new += await self._apply_all(ordered)
            seen += len(ordered)
            cursor = str(ordered[-1]["id"])
            await set_state(self.db, self.cursor_key, cursor)
            if not page.has_more:
                break
        return PassResult(seen, new)

    async def _from_the_start(self) -> PassResult:
        # Walk back through everything the service still lists, then apply oldest first.
        collected: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page = await self.source.events_page(
                starting_after=after,
                limit=self.page_size,
                types=self.types,
                delivery_success=False if self.failed_only else None,
            )
            collected.extend(page.events)
            if not page.has_more or not page.events:
                break
            after = str(page.events[-1]["id"])
        ordered = list(reversed(collected))
        new = await self._apply_all(ordered)
        if ordered:
            await set_state(self.db, self.cursor_key, str(ordered[-1]["id"]))
        return PassResult(len(ordered), new)

    async def run(self, stop: asyncio.Event) -> None:
        """Reconcile every `interval` seconds until `stop` is set."""
        what = "events Stripe failed to deliver" if self.failed_only else "Stripe's event list"
        log.info("reconciling with %s every %.0fs", what, self.interval)
        while not stop.is_set():
            try:
                result = await self.pass_once()
                if result.new_entries:
                    log.info(
                        "reconciled %d events, %d new ledger entries",
                        result.events,
                        result.new_entries,
                    )
            except ProviderError as exc:
                log.warning("reconciliation failed: %s", exc)
            except Exception:
                # One bad pass must not take the bot down; the next pass retries from the cursor.
                log.exception("reconciliation failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
