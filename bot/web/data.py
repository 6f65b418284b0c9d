"""The machine-readable routes: figures as JSON, the SVG image, the live event stream."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable

from aiohttp import web

from bot.donations.campaigns import Campaign
from bot.web.lang import reader
from bot.web.live import Listener, sse_event
from bot.web.site import Site, lang_of, not_found
from bot.web.svg import progress_svg
from bot.web.views import CampaignView

MAX_LISTENERS = 20_000  # open event streams at most; more get 503
HEARTBEAT = b": heartbeat\n\n"
RETRY = b"retry: 5000\n\n"  # how long a browser waits before reconnecting


class Data:
    """Handlers for figures, images and events."""

    def __init__(self, site: Site, closing: asyncio.Event) -> None:
        self.site = site
        self.closing = closing  # set when the server stops: open streams end

    def routes(self) -> list[web.RouteDef]:
        slug = "{id:[a-z0-9_-]+}"
        return [
            web.get(f"/campaigns/{slug}.json", self.figures),
            web.get(f"/campaigns/{slug}.svg", self.image),
            web.get(f"/campaigns/{slug}/events", self.events),
        ]

    async def figures(self, request: web.Request) -> web.Response:
        """The figures `outreach-bot progress --json` gives for this campaign (minor units);
        with `?display=1`, also as a reader of `?lang=` sees them (the pages' fallback)."""
        campaign = self.site.campaign(request)
        if campaign is None:
            return not_found(request)
        wanted = request.query.get("display") == "1"
        lang = lang_of(request) if wanted else ""
        body, _ = await self._cached(
            ("json", lang),
            lambda view: json.dumps(view.event(lang) if wanted else view.figures).encode(),
            campaign,
        )
        response = web.Response(body=body, content_type="application/json")
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Access-Control-Allow-Origin"] = "*"
        if wanted:
            response.headers["Vary"] = "Accept-Language"
        return response

    async def image(self, request: web.Request) -> web.Response:
        """The progress image; cached for a minute, revalidated by ETag."""
        campaign = self.site.campaign(request)
        if campaign is None:
            return not_found(request)
        lang = lang_of(request)
        body, etag = await self._cached(
            ("svg", lang),
            lambda view: progress_svg(view, view.display(lang), campaign.title_in(lang)),
            campaign,
        )
        headers = {"Cache-Control": "public, max-age=60", "ETag": etag, "Vary": "Accept-Language"}
        if etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="image/svg+xml", headers=headers)

    async def _cached(
        self, key: tuple[str, ...], make: Callable[[CampaignView], bytes], campaign: Campaign
    ) -> tuple[bytes, str]:
        """The campaign's body for `key` and its ETag, rendered once per ledger change."""
        figures = self.site.figures
        cache_key = (campaign.id, *key)
        found = figures.rendered(cache_key)
        if found is not None:
            return found
        generation = figures.generation
        body = make(await self.site.view(campaign))
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        figures.keep(cache_key, body, etag, generation)
        return body, etag

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: the figures now, then each change; a comment as heartbeat."""
        campaign = self.site.campaign(request)
        if campaign is None:
            return not_found(request)
        if self.site.hub.listening >= MAX_LISTENERS:
            _ = reader(lang_of(request)).gettext
            return web.Response(status=503, text=_("Too many live pages are open; try later."))
        lang = lang_of(request)
        listener = self.site.hub.listen(campaign.id, lang)
        try:
            response = web.StreamResponse(
                headers={
                    "Content-Type": "text/event-stream",
                    "Cache-Control": "no-cache",
                    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
                }
            )
            await response.prepare(request)
            view = await self.site.view(campaign)
            now = json.dumps(view.event(lang), ensure_ascii=False)
            await response.write(RETRY + sse_event(now))
            await self._stream(response, listener)
        except ConnectionResetError:
            pass  # the reader went away: nothing more to send
        finally:
            self.site.hub.forget(listener)
        return response

    async def _stream(self, response: web.StreamResponse, listener: Listener) -> None:
        heartbeat = self.site.settings.heartbeat
        while not self.closing.is_set():
            frame = await self._next(listener, heartbeat)
            if frame is None or listener.dropped:
                return
            await response.write(frame)

    async def _next(self, listener: Listener, heartbeat: float) -> bytes | None:
        """The next frame: an event, a heartbeat after `heartbeat` s of quiet, None to end."""
        getter = asyncio.ensure_future(listener.queue.get())
        closer = asyncio.ensure_future(self.closing.wait())
        try:
            done, _ = await asyncio.wait(
                {getter, closer}, timeout=heartbeat, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            getter.cancel()
            closer.cancel()
        if getter in done:
            return getter.result()
        return None if closer in done else HEARTBEAT
