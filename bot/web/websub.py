"""The WebSub callback routes: `GET /websub/{feed}` (the hub verifies a subscription)
and `POST /websub/{feed}` (the hub pushes the feed).

A push is read up to the feed fetch size cap, must carry a valid `X-Hub-Signature`,
and then goes through the poller's own parse → dedup → outbox path. Anything else
gets a 4xx and changes nothing; each refusal is logged (WebSub asks for 2xx on a bad
signature so that a forger learns nothing; the issue this follows asks for 4xx, and
a forger learns nothing either way: the secret never leaves the bot).
"""

from __future__ import annotations

import logging
from typing import Protocol

from aiohttp import web

from bot.feeds.fetch import MAX_BYTES
from bot.feeds.parse import NotAFeed
from bot.feeds.select import PollResult
from bot.feeds.websub import WebSub

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024


class TakesPushes(Protocol):
    """The poller, as the push route needs it."""

    async def take_pushed(self, name: str, body: bytes, content_type: str | None) -> PollResult: ...


class WebSubRoutes:
    """The callback routes of one bot's subscriptions."""

    def __init__(self, websub: WebSub, poller: TakesPushes, *, max_bytes: int = MAX_BYTES) -> None:
        self.websub = websub
        self.poller = poller
        self.max_bytes = max_bytes

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/websub/{feed}", self.verify), web.post("/websub/{feed}", self.push)]

    async def verify(self, request: web.Request) -> web.Response:
        feed = request.match_info["feed"]
        challenge = await self.websub.verify(feed, request.query)
        if challenge is None:
            return web.Response(status=404, text="not found")
        return web.Response(text=challenge, content_type="text/plain")

    async def push(self, request: web.Request) -> web.Response:
        feed = request.match_info["feed"]
        body = await self._read(request)
        if body is None:
            log.warning("websub %s: refused a push over %d bytes", feed, self.max_bytes)
            return web.Response(status=413, text="too large")
        refusal = await self.websub.refusal(feed, body, request.headers.get("X-Hub-Signature"))
        if refusal is not None:
            log.warning("websub %s: refused a push: %s", feed, refusal.reason)
            return web.Response(status=refusal.status, text=refusal.reason)
        try:
            await self.poller.take_pushed(feed, body, request.headers.get("Content-Type"))
        except NotAFeed as exc:
            log.warning("websub %s: a signed push is not a feed: %s", feed, exc)
            return web.Response(status=400, text="not a feed")
        return web.Response(status=204)

    async def _read(self, request: web.Request) -> bytes | None:
        """The body, or None when it is over the cap (declared or counted)."""
        declared = request.content_length
        if declared is not None and declared > self.max_bytes:
            return None
        chunks, total = [], 0
        async for chunk in request.content.iter_chunked(_CHUNK):
            total += len(chunk)
            if total > self.max_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)
