"""Campaign figures for the web, read from the ledger once per change, not once per request.

The ledger publishes every commit that changed a campaign (see
bot.donations.changes); this cache forgets that campaign's figures then, and
everything rendered from them (JSON bytes, SVG images), so a busy page costs no
database read. A read that overlaps a change is not kept (a generation count).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.donations.campaigns import Campaign, Totals
from bot.storage.ledger import MonthlyRow
from bot.web.views import CampaignView

ReadTotals = Callable[[], Awaitable[dict[str, dict[str, Totals]]]]
ReadMonthly = Callable[[], Awaitable[dict[str, dict[str, MonthlyRow]]]]
MAX_RENDERED = 1024  # rendered bodies kept at most (campaigns x kinds x languages)


class FiguresCache:
    """Each campaign's current view, and bodies rendered from it, until the ledger changes."""

    def __init__(self, read_totals: ReadTotals, read_monthly: ReadMonthly) -> None:
        self._read_totals = read_totals
        self._read_monthly = read_monthly
        self._views: dict[str, CampaignView] = {}
        self._rendered: dict[tuple[str, ...], tuple[bytes, str]] = {}
        self._generation = 0

    def changed(self, campaigns: frozenset[str] | None) -> None:
        """Forget what the ledger just changed (None: everything)."""
        self._generation += 1
        if campaigns is None:
            self._views.clear()
            self._rendered.clear()
            return
        for campaign in campaigns:
            self._views.pop(campaign, None)
        self._rendered = {k: v for k, v in self._rendered.items() if k[0] not in campaigns}

    async def view(self, campaign: Campaign) -> CampaignView:
        cached = self._views.get(campaign.id)
        if cached is not None and cached.campaign is campaign:
            return cached
        generation = self._generation
        totals = await self._read_totals()
        monthly = (await self._read_monthly()).get(campaign.id, {}).get(campaign.currency)
        view = CampaignView.of(campaign, totals.get(campaign.id, {}), monthly)
        if generation == self._generation:
            self._views[campaign.id] = view
        return view

    def rendered(self, key: tuple[str, ...]) -> tuple[bytes, str] | None:
        """A body (and its ETag) rendered for `key` (campaign id first) since the last change."""
        return self._rendered.get(key)

    def keep(self, key: tuple[str, ...], body: bytes, etag: str, generation: int) -> None:
        """Remember a body rendered from figures read at `generation`."""
        if generation == self._generation and len(self._rendered) < MAX_RENDERED:
            self._rendered[key] = (body, etag)

    @property
    def generation(self) -> int:
        return self._generation
