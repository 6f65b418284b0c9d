"""Live campaign figures for Server-Sent Events: the ledger's changes, fanned out to clients.

The ledger tells `LiveHub.changed` which campaigns moved (in its own task, after a
commit); the hub's own task reads each moved campaign's figures once (through the
figures cache, which heard of the change first) and puts one event in each listening
client's queue. Queues are bounded: a client that does not keep up is
dropped (its stream ends and the hub forgets it), so no client can hold up the
ledger or grow the bot's memory. Changes that arrive while the hub is reading are
merged into the next read.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from bot.donations.campaigns import Campaign
from bot.web.views import CampaignView

log = logging.getLogger(__name__)

QUEUE_SIZE = 16  # events a client may fall behind before it is dropped

ReadView = Callable[[Campaign], Awaitable[CampaignView]]


@dataclass(eq=False, slots=True)
class Listener:
    """One open event stream: its campaign, its language, and what it has yet to send."""

    campaign: str
    lang: str
    queue: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: bool = False


def sse_event(data: str, event: str = "progress") -> bytes:
    """One SSE frame (`data` is one line of JSON)."""
    return f"event: {event}\ndata: {data}\n\n".encode()


class LiveHub:
    """Who listens to which campaign, and the task that tells them when it changes."""

    def __init__(self, campaigns: Iterable[Campaign], read_view: ReadView) -> None:
        self._campaigns = {c.id: c for c in campaigns}
        self._read_view = read_view
        self._listeners: dict[str, set[Listener]] = {}
        self._pending: set[str] = set()
        self._wake = asyncio.Event()

    @property
    def listening(self) -> int:
        return sum(len(s) for s in self._listeners.values())

    def changed(self, campaigns: frozenset[str] | None) -> None:
        """The ledger committed a change to these campaigns (None: any). Never blocks."""
        self._pending |= set(self._campaigns) if campaigns is None else set(campaigns)
        self._wake.set()

    def listen(self, campaign: str, lang: str) -> Listener:
        listener = Listener(campaign, lang)
        self._listeners.setdefault(campaign, set()).add(listener)
        return listener

    def forget(self, listener: Listener) -> None:
        listeners = self._listeners.get(listener.campaign)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._listeners[listener.campaign]

    async def run(self, stop: asyncio.Event) -> None:
        """Tell listeners about changes until `stop` is set."""
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                waking = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({stopping, waking}, return_when=asyncio.FIRST_COMPLETED)
                waking.cancel()
                if stop.is_set():
                    break
                self._wake.clear()
                try:
                    await self.tell()
                except Exception:
                    log.exception("could not read the campaign totals for live pages")
        finally:
            stopping.cancel()

    async def tell(self) -> None:
        """Read each changed campaign's figures once and queue an event for its listeners."""
        wanted, self._pending = self._pending & set(self._listeners), set()
        for campaign_id in sorted(wanted):
            self.fan_out(await self._read_view(self._campaigns[campaign_id]))

    def fan_out(self, view: CampaignView) -> None:
        """Queue `view` for each of its listeners (one rendering per language)."""
        frames: dict[str, bytes] = {}
        for listener in list(self._listeners.get(view.campaign.id, ())):
            frame = frames.get(listener.lang)
            if frame is None:
                data = json.dumps(view.event(listener.lang), ensure_ascii=False)
                frame = frames[listener.lang] = sse_event(data)
            try:
                listener.queue.put_nowait(frame)
            except asyncio.QueueFull:
                listener.dropped = True
                self.forget(listener)
                log.info("dropped a live page client that fell behind")
