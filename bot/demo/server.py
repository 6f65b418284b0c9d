"""Serves the demo's sample feed over real HTTP on 127.0.0.1, so the demo uses the real pipeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from bot.demo import sample_feed_bytes


@asynccontextmanager
async def serve_sample_feed() -> AsyncIterator[str]:
    """Yield the URL of the sample feed while a local server serves it."""
    body = sample_feed_bytes()

    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/rss+xml", charset="utf-8")

    app = web.Application()
    app.router.add_get("/feed.xml", feed)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        server = site._server  # aiohttp exposes the bound port only through the server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        yield f"http://127.0.0.1:{port}/feed.xml"
    finally:
        await runner.cleanup()
