"""A feed server on 127.0.0.1 whose answer each test sets: body, status, headers; ETags honoured."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class FeedServer:
    bodies: dict[str, bytes] = field(default_factory=dict)  # path -> body
    status: dict[str, int] = field(default_factory=dict)  # path -> forced status
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    content_type: str = "application/rss+xml"
    requests: list[str] = field(default_factory=list)
    base_url: str = ""

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        self.requests.append(path)
        if path in self.status:
            return web.Response(status=self.status[path], headers=self.headers.get(path, {}))
        body = self.bodies.get(path)
        if body is None:
            return web.Response(status=404)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, headers={"ETag": etag, "Content-Type": self.content_type})


@asynccontextmanager
async def feed_server() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        server.base_url = f"http://127.0.0.1:{port}"
        yield server
    finally:
        await runner.cleanup()
