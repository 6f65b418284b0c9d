"""A WebSub hub stand-in on 127.0.0.1: takes subscriptions, verifies them, pushes signed bodies.

As strict as a real hub where the bot could go wrong: a subscription request must be
a form with hub.mode, an http(s) hub.topic and hub.callback (202 Accepted; 400
otherwise); it counts only once the subscriber's callback echoes the challenge of a
verification GET (done after answering, as most hubs do); a lease ends (no pushes after
it); `publish` pushes to every live subscription of a topic, signed with HMAC-SHA256 of
the raw body (`sign="sha1"`, `forge=True`, `sign=None` for the other cases). `down`
answers every request 503.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web


@dataclass
class HubSubscription:
    topic: str
    callback: str
    secret: str
    lease_seconds: float
    expires_at: float = 0.0
    verified: bool = False

    def live(self) -> bool:
        return self.verified and time.monotonic() < self.expires_at


@dataclass
class Hub:
    url: str = ""
    down: bool = False
    lease_seconds: float | None = None  # granted instead of what was asked
    requests: list[dict[str, str]] = field(default_factory=list)
    subscriptions: dict[tuple[str, str], HubSubscription] = field(default_factory=dict)
    verifications: list[tuple[str, int, bool]] = field(default_factory=list)  # mode, status, ok
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503, text="hub down")
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.requests.append(form)
        self._changed.set()
        mode, topic, callback = (form.get(k, "") for k in ("hub.mode", "hub.topic", "hub.callback"))
        if mode not in ("subscribe", "unsubscribe") or not _http(topic) or not _http(callback):
            return web.Response(status=400, text="bad request")
        task = asyncio.create_task(self._verify(form))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=202)

    async def _verify(self, form: dict[str, str]) -> None:
        mode, topic, callback = form["hub.mode"], form["hub.topic"], form["hub.callback"]
        lease = self.lease_seconds or float(form.get("hub.lease_seconds") or 86400)
        challenge = secrets.token_urlsafe(16)
        query = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            query["hub.lease_seconds"] = str(int(lease) if lease == int(lease) else lease)
        assert self._session is not None
        async with self._session.get(callback, params=query) as response:
            body = await response.text()
            ok = response.status == 200 and body == challenge
        self.verifications.append((mode, response.status, ok))
        key = (topic, callback)
        if ok and mode == "subscribe":
            sub = HubSubscription(topic, callback, form.get("hub.secret", ""), lease)
            sub.verified, sub.expires_at = True, time.monotonic() + lease
            self.subscriptions[key] = sub
        elif ok and mode == "unsubscribe":
            self.subscriptions.pop(key, None)
        self._changed.set()

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        sign: str | None = "sha256",
        forge: bool = False,
        content_type: str = "application/rss+xml",
    ) -> list[int]:
        """Push `body` to every live subscriber of `topic`; their HTTP statuses."""
        statuses = []
        for sub in [s for s in self.subscriptions.values() if s.topic == topic and s.live()]:
            headers = {"Content-Type": content_type}
            if sign is not None:
                key = (sub.secret + "forged" if forge else sub.secret).encode()
                digest = hmac.new(key, body, getattr(hashlib, sign)).hexdigest()
                headers["X-Hub-Signature"] = f"{sign}={digest}"
            statuses.append(await self.post(sub.callback, body, headers))
        return statuses

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        assert self._session is not None
        async with self._session.post(url, data=io.BytesIO(body), headers=headers) as response:
            return response.status

    async def get(self, url: str, query: dict[str, str]) -> tuple[int, str]:
        assert self._session is not None
        async with self._session.get(url, params=query) as response:
            return response.status, await response.text()

    def live(self, topic: str) -> list[HubSubscription]:
        return [s for s in self.subscriptions.values() if s.topic == topic and s.live()]

    async def wait_until(self, condition: Callable[[], bool], limit: float = 10.0) -> None:
        async with asyncio.timeout(limit):
            while not condition():
                # Also looked at every 0.1 s: conditions may read the bot's state too.
                self._changed.clear()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.1)


def _http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


@asynccontextmanager
async def websub_hub() -> AsyncIterator[Hub]:
    hub = Hub()
    app = web.Application()
    app.router.add_post("/", hub.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    hub._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    try:
        hub.url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
        yield hub
    finally:
        for task in list(hub._tasks):
            task.cancel()
        await asyncio.gather(*hub._tasks, return_exceptions=True)
        await hub._session.close()
        await runner.cleanup()
