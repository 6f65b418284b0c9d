"""What every web handler shares: the donations service, settings, the live hub, the limit."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from aiohttp import web

from bot.archive import Archive, ArchivedArticle
from bot.config import WebSection
from bot.donations import Donations
from bot.donations.campaigns import Campaign
from bot.web.figures import FiguresCache
from bot.web.lang import choose_language
from bot.web.live import LiveHub
from bot.web.ratelimit import ClientRateLimit
from bot.web.templates import render
from bot.web.views import CampaignView

HTML = "text/html"
ARTICLES_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Site:
    """The campaign pages' shared parts (built once by `bot.web.server.build_web`)."""

    donations: Donations
    settings: WebSection
    hub: LiveHub
    limiter: ClientRateLimit
    figures: FiguresCache
    archive: Archive | None = None
    clock: Callable[[], float] = time.time

    def today(self) -> date:
        return datetime.fromtimestamp(self.clock(), UTC).date()

    def campaign(self, request: web.Request) -> Campaign | None:
        return self.donations.campaigns.get(request.match_info.get("id", ""))

    async def view(self, campaign: Campaign) -> CampaignView:
        return await self.figures.view(campaign)

    def page_url(self, campaign: Campaign) -> str:
        """The campaign page's address: under `public_url` when set, else root-relative."""
        base = (self.settings.public_url or "").rstrip("/")
        return f"{base}/campaigns/{campaign.id}"

    def client(self, request: web.Request) -> str:
        """Who is asking, for the rate limit (the proxy's X-Forwarded-For when trusted)."""
        if self.settings.trust_forwarded:
            forwarded = request.headers.get("X-Forwarded-For", "")
            last = forwarded.rsplit(",", 1)[-1].strip()
            if last:
                return last
        return request.remote or "unknown"

    async def articles(self, campaign: Campaign) -> list[ArchivedArticle]:
        """The latest articles on the campaign's topic (its id as a topic or category)."""
        if self.archive is None:
            return []
        found = await self.archive.latest(ARTICLES_SHOWN, topic=campaign.id)
        # Feed links are the feed's to choose: only web addresses become links.
        return [a for a in found if urlsplit(a.url).scheme in ("http", "https")]


def lang_of(request: web.Request) -> str:
    return choose_language(request.query.get("lang"), request.headers.get("Accept-Language"))


def html(name: str, lang: str, *, status: int = 200, **context: object) -> web.Response:
    """A rendered page; `Vary` because the language may come from Accept-Language."""
    response = web.Response(
        text=render(name, lang, **context), status=status, content_type=HTML, charset="utf-8"
    )
    response.headers["Vary"] = "Accept-Language"
    response.headers["Cache-Control"] = "no-cache"
    return response


def not_found(request: web.Request) -> web.Response:
    return html("not_found.html", lang_of(request), status=404)
