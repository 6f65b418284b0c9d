"""WebSub (formerly PubSubHubbub): the feed's hub pushes new articles instead of the bot
polling for them.

When a poll finds the feed's hub (`<link rel="hub">`) and `[web] public_url` is set,
the bot subscribes there with a callback `<public_url>/websub/<feed>` and a random
secret of its own; the hub checks the callback with a GET the bot answers only for a
topic and mode it asked for; then each new version of the feed arrives as a POST
signed with the secret (`X-Hub-Signature: sha256=<HMAC of the raw body>`, sha1
accepted). Subscriptions are renewed before their lease ends and cancelled for feeds
that left the config. Polling goes on, slower (`interval_with_push`), as a safety net.

This module keeps the subscriptions and judges the hub's requests; the routes are in
`bot.web.websub`, and a push's body goes through the poller like a polled one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import aiohttp
from yarl import URL

from bot.feeds.fetch import FetchError, GuardedResolver, check_url
from bot.storage import Database
from bot.storage import websub as ws

log = logging.getLogger(__name__)

LEASE_SECONDS = 10 * 86400  # asked for; the hub decides
RETRY_AFTER = 600.0  # a failed, denied or unanswered request is made again after this
RENEW_AT = 0.8  # share of the lease after which it is renewed
SIGNATURES = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a push is refused, and the HTTP status the hub gets."""

    status: int
    reason: str


class WebSub:
    """The bot's WebSub subscriptions; `run` renews and cancels them while the bot runs."""

    def __init__(
        self,
        db: Database,
        *,
        public_url: str,
        feeds: Mapping[str, bool],
        user_agent: str,
        clock: Callable[[], float] = time.time,
        lease_seconds: int = LEASE_SECONDS,
        tick: float = 30.0,
        timeout: float = 20.0,
    ) -> None:
        """`feeds` maps each configured feed's name to its `allow_private`."""
        self.db = db
        self.public_url = public_url.rstrip("/")
        self.feeds = dict(feeds)
        self.user_agent = user_agent
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.tick = tick
        self.timeout = timeout
        self._sessions: dict[bool, aiohttp.ClientSession] = {}
        self._resolvers: list[GuardedResolver] = []
        self._running = False
        # Hubs found before `run` began (the first poll races the web server's start).
        self._deferred: dict[str, tuple[str, str, bool]] = {}

    def callback(self, feed: str) -> str:
        return f"{self.public_url}/websub/{feed}"

    # --- the poller's side -----------------------------------------------------------------

    async def pushing(self, feed: str) -> bool:
        sub = await ws.get(self.db, feed)
        return sub is not None and sub.pushing(self.clock())

    async def discovered(self, feed: str, hub: str, topic: str, *, allow_private: bool) -> None:
        """Subscribe at `hub` unless subscribed there already (or asked recently)."""
        if not self._running:
            # No callback server yet (or at all: `run --once`): nothing could be verified.
            self._deferred[feed] = (hub, topic, allow_private)
            return
        now = self.clock()
        sub = await ws.get(self.db, feed)
        same = sub is not None and sub.hub == hub and sub.topic == topic
        if sub is not None and same:
            if sub.state == ws.SUBSCRIBED and not self._renewal_due(sub, now):
                return
            if sub.state != ws.SUBSCRIBED and now - sub.changed_at < RETRY_AFTER:
                return
        keep = sub if same and sub is not None else None
        await self._ask(
            ws.Subscription(
                feed=feed,
                hub=hub,
                topic=topic,
                secret=keep.secret if keep else secrets.token_hex(32),
                allow_private=allow_private,
                state=ws.SUBSCRIBED if keep and keep.pushing(now) else ws.REQUESTED,
                lease_seconds=keep.lease_seconds if keep else None,
                lease_until=keep.lease_until if keep else None,
                changed_at=now,
                error=None,
            ),
            "subscribe",
        )

    def _renewal_due(self, sub: ws.Subscription, now: float) -> bool:
        if sub.lease_until is None or sub.lease_seconds is None:
            return False
        return now >= sub.lease_until - sub.lease_seconds * (1 - RENEW_AT)

    # --- the hub's side ----------------------------------------------------------------------

    async def verify(self, feed: str, query: Mapping[str, str]) -> str | None:
        """The hub's verification GET: the challenge to echo, or None to refuse (404)."""
        mode, topic = query.get("hub.mode", ""), query.get("hub.topic", "")
        sub = await ws.get(self.db, feed)
        if sub is None or topic != sub.topic:
            log.warning("websub %s: refused a %s verification for another topic", feed, mode)
            return None
        now = self.clock()
        if mode == "denied":
            reason = query.get("hub.reason", "")[:200] or "no reason given"
            log.warning("websub %s: the hub denied the subscription: %s", feed, reason)
            await ws.set_state(self.db, feed, ws.DENIED, now, error=f"denied: {reason}")
            return ""
        challenge = query.get("hub.challenge", "")
        if not challenge:
            return None
        if mode == "subscribe" and sub.state in (ws.REQUESTED, ws.SUBSCRIBED):
            lease = _lease(query.get("hub.lease_seconds"), self.lease_seconds)
            await ws.set_state(self.db, feed, ws.SUBSCRIBED, now, lease_seconds=lease)
            log.info("websub %s: subscribed for %.0f s", feed, lease)
            return challenge
        if mode == "unsubscribe" and sub.state == ws.UNSUBSCRIBING:
            await ws.delete(self.db, feed)
            log.info("websub %s: unsubscribed", feed)
            return challenge
        log.warning("websub %s: refused a %s verification nobody asked for", feed, mode)
        return None

    async def refusal(self, feed: str, body: bytes, signature: str | None) -> Refusal | None:
        """Why a pushed `body` must not be taken (None: it is authentic)."""
        sub = await ws.get(self.db, feed)
        if feed not in self.feeds or sub is None or sub.state != ws.SUBSCRIBED:
            return Refusal(404, "no subscription")
        if not signature:
            return Refusal(401, "unsigned")
        method, _, digest = signature.strip().partition("=")
        algorithm = SIGNATURES.get(method.lower())
        if algorithm is None:
            return Refusal(400, f"unsupported signature method {method[:16]!r}")
        expected = hmac.new(sub.secret.encode(), body, algorithm).hexdigest()
        if not hmac.compare_digest(expected, digest.strip().lower()):
            return Refusal(403, "signature mismatch")
        return None

    # --- renewal and cancelling --------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, ready: asyncio.Event | None = None) -> None:
        """Renew leases before they end and cancel removed feeds', until `stop` is set.

        `ready` is set once the callback server listens: no hub is asked before.
        """
        if ready is not None:
            waits = [asyncio.ensure_future(ready.wait()), asyncio.ensure_future(stop.wait())]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()
        self._running = True
        try:
            deferred, self._deferred = self._deferred, {}
            for feed, (hub, topic, allow_private) in deferred.items():
                await self.discovered(feed, hub, topic, allow_private=allow_private)
            while not stop.is_set():
                await self.tend()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.tick)
        finally:
            self._running = False
            await self.aclose()

    async def tend(self) -> None:
        now = self.clock()
        for sub in await ws.all_subscriptions(self.db):
            if sub.feed not in self.feeds:
                if sub.state != ws.UNSUBSCRIBING or now - sub.changed_at >= RETRY_AFTER:
                    await self._cancel(sub, now)
            elif sub.state == ws.SUBSCRIBED and self._renewal_due(sub, now):
                await self.discovered(sub.feed, sub.hub, sub.topic, allow_private=sub.allow_private)

    async def _cancel(self, sub: ws.Subscription, now: float) -> None:
        cancelling = ws.Subscription(
            sub.feed, sub.hub, sub.topic, sub.secret, sub.allow_private, ws.UNSUBSCRIBING,
            None, None, now, None,
        )  # fmt: skip
        if await self._ask(cancelling, "unsubscribe") is False:
            await ws.delete(self.db, sub.feed)  # the hub refuses: nothing left to cancel

    async def _ask(self, sub: ws.Subscription, mode: str) -> bool | None:
        """Store `sub`, then ask its hub; True: accepted, False: refused, None: unreachable."""
        await ws.request(self.db, sub)
        form = {
            "hub.mode": mode,
            "hub.topic": sub.topic,
            "hub.callback": self.callback(sub.feed),
        }
        if mode == "subscribe":
            form |= {"hub.secret": sub.secret, "hub.lease_seconds": str(self.lease_seconds)}
        try:
            check_url(URL(sub.hub), allow_private=sub.allow_private)
            session = self._session(sub.allow_private)
            async with session.post(sub.hub, data=form, allow_redirects=False) as response:
                if 200 <= response.status < 300:
                    log.info("websub %s: asked the hub to %s", sub.feed, mode)
                    return True
                error = f"the hub answered HTTP {response.status}"
                accepted: bool | None = False if 400 <= response.status < 500 else None
        except (FetchError, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            error, accepted = f"the hub is unreachable: {exc or type(exc).__name__}", None
        log.warning("websub %s: could not %s: %s", sub.feed, mode, error)
        if mode == "subscribe":
            # A live lease stays live: the hub goes on pushing until it ends.
            still = sub.pushing(self.clock())
            await ws.set_state(
                self.db, sub.feed, ws.SUBSCRIBED if still else ws.FAILED, self.clock(),
                error=error,
            )  # fmt: skip
        return accepted

    def _session(self, allow_private: bool) -> aiohttp.ClientSession:
        session = self._sessions.get(allow_private)
        if session is None:
            resolver = None if allow_private else GuardedResolver()
            if resolver is not None:
                self._resolvers.append(resolver)
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=resolver),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": self.user_agent},
            )
            self._sessions[allow_private] = session
        return session

    async def aclose(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        resolvers, self._resolvers = self._resolvers, []
        for session in sessions:
            await session.close()
        for resolver in resolvers:
            await resolver.close()


def _lease(value: str | None, default: float) -> float:
    try:
        lease = float(value) if value else default
    except ValueError:
        return default
    return lease if lease > 0 else default
