"""The server Telegram posts updates to when the bot runs with a webhook.

It checks Telegram's secret token header (in constant time) and that the body
is a JSON object, then hands the object on; what becomes of it is the
adapter's business. It binds 127.0.0.1 unless told otherwise: a reverse proxy
terminates TLS in front of it.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

__all__ = ["SECRET_HEADER", "WebhookServer"]

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
# Takes one update as Telegram sent it; answers with the HTTP status for Telegram.
UpdateSink = Callable[[dict[str, Any]], Awaitable[int]]


def split_listen(listen: str) -> tuple[str, int]:
    """ "host:port" (or "[::1]:port") as a host and a port; no host means 127.0.0.1."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class WebhookServer:
    """An aiohttp server with one route: the path of the webhook URL Telegram was given."""

    def __init__(self, *, url: str, listen: str, secret: str | None, sink: UpdateSink) -> None:
        self.url = url
        self.host, self.port = split_listen(listen)
        self._secret = secret
        self._sink = sink
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        if not self._secret:
            log.warning("telegram: the webhook has no secret token; anyone can post updates")
        server = web.Application()
        server.router.add_post(urlsplit(self.url).path or "/", self._on_post)
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        self._runner = runner
        await web.TCPSite(runner, self.host, self.port).start()

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _on_post(self, request: web.Request) -> web.Response:
        if self._secret:
            given = request.headers.get(SECRET_HEADER, "").encode()
            if not hmac.compare_digest(given, self._secret.encode()):
                return web.Response(status=403)
        try:
            update = await request.json()
        except ValueError:  # not JSON, or not UTF-8 (both are ValueErrors)
            return web.Response(status=400)
        if not isinstance(update, dict):
            return web.Response(status=400)
        return web.Response(status=await self._sink(update))
