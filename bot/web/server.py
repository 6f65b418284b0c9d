"""The `[web]` server: the Stripe webhook, the campaign pages and widget, one aiohttp app.

It runs when `[web] enabled = true` or a Stripe webhook secret is set, binds
`[web] listen` (127.0.0.1:8080 by default; TLS belongs to a reverse proxy, see
docs/web.md), and serves pages unless `[web] pages = false`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from importlib import resources

from aiohttp import web

from bot.archive import Archive
from bot.config import WebSection
from bot.donations import Donations
from bot.donations.webhook import MAX_BODY, StripeWebhook
from bot.web.data import Data
from bot.web.figures import FiguresCache
from bot.web.health import Health
from bot.web.live import LiveHub
from bot.web.pages import Pages
from bot.web.ratelimit import ClientRateLimit
from bot.web.site import Site, not_found
from bot.web.websub import WebSubRoutes

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    # The donate form's answer is a redirect to the payment provider's page, which
    # form-action also governs: any https page, as the provider's address varies.
    "connect-src 'self'; base-uri 'none'; form-action 'self' https:; frame-ancestors 'none'"
)
STATIC = {"site.css": "text/css", "live.js": "text/javascript"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A strict CSP and friends on every answer (a handler may set its own CSP first)."""
    try:
        response = await handler(request)
    except web.HTTPNotFound:
        if not request.path.startswith("/campaigns"):
            raise
        response = not_found(request)
    except web.HTTPException as exc:
        _harden(exc.headers)
        raise
    _harden(response.headers)
    return response


def _harden(headers: MutableMapping[str, str]) -> None:
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if "frame-ancestors 'none'" in headers["Content-Security-Policy"]:
        headers.setdefault("X-Frame-Options", "DENY")


def static_routes() -> list[web.RouteDef]:
    """The stylesheet and script, read once from the package, cached by browsers for an hour."""
    routes = []
    for name, content_type in STATIC.items():
        body = (resources.files("bot.web") / "static" / name).read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'

        async def serve(
            request: web.Request, body: bytes = body, etag: str = etag, ct: str = content_type
        ) -> web.Response:
            headers = {"Cache-Control": "public, max-age=3600", "ETag": etag}
            if etag in request.headers.get("If-None-Match", ""):
                return web.Response(status=304, headers=headers)
            return web.Response(body=body, content_type=ct, charset="utf-8", headers=headers)

        routes.append(web.get(f"/static/{name}", serve))
    return routes


def split_listen(listen: str) -> tuple[str, int]:
    """ "127.0.0.1:8080" -> ("127.0.0.1", 8080); "[::1]:8080" -> ("::1", 8080)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class WebServer:
    """Serves the app on `listen` (port 0: any free port, see `port` after `start`)."""

    def __init__(
        self,
        listen: str,
        *,
        site: Site | None = None,
        webhook: StripeWebhook | None = None,
        health: Health | None = None,
        websub: WebSubRoutes | None = None,
    ) -> None:
        self.host, self.port = split_listen(listen)
        self.site = site
        self.webhook = webhook
        self.health = health
        self.websub = websub
        self.closing = asyncio.Event()
        self.listening = asyncio.Event()  # set once the port is bound
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The server's base URL (after `start`)."""
        return f"http://{self.host}:{self.port}"

    def app(self) -> web.Application:
        """The aiohttp application (tests drive it with aiohttp's test client)."""
        app = web.Application(client_max_size=MAX_BODY, middlewares=[security_headers])
        if self.webhook is not None:
            self.webhook.add_routes(app)
        if self.health is not None:
            app.add_routes(self.health.routes())
        if self.websub is not None:
            app.add_routes(self.websub.routes())
        if self.site is not None:
            app.add_routes(static_routes())
            app.add_routes(Data(self.site, self.closing).routes())
            app.add_routes(Pages(self.site).routes())
        app.on_shutdown.append(self._closing)
        return app

    async def _closing(self, app: web.Application) -> None:
        self.closing.set()  # open event streams end, so shutdown does not wait for them

    async def start(self) -> int:
        """Bind and serve; returns the port actually bound."""
        self.closing.clear()
        runner = web.AppRunner(
            self.app(), access_log=None, handle_signals=False, shutdown_timeout=5
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.listening.set()
        log.info("web server listening on %s:%d", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        self.listening.clear()
        if runner is not None:
            await runner.cleanup()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve, and tell live pages about ledger changes, until `stop` is set."""
        await self.start()
        try:
            async with asyncio.TaskGroup() as tg:
                if self.site is not None:
                    tg.create_task(self.site.hub.run(stop))
                await stop.wait()
        finally:
            await self.stop()


def build_web(
    settings: WebSection,
    donations: Donations | None,
    *,
    archive: Archive | None = None,
    clock: Callable[[], float] = time.time,
    health: Health | None = None,
    websub: WebSubRoutes | None = None,
) -> WebServer | None:
    """The web server the config asks for, or None when nothing needs it."""
    webhook = donations.webhook if donations is not None else None
    if not settings.enabled and webhook is None and websub is None:
        return None
    site = None
    if settings.pages and donations is not None:
        figures = FiguresCache(donations.ledger.totals, donations.ledger.monthly)
        donations.changes.subscribe(figures.changed)  # first: live updates read fresh figures
        hub = LiveHub(donations.campaigns.values(), figures.view)
        donations.changes.subscribe(hub.changed)
        limiter = ClientRateLimit(settings.donate_per_minute)
        site = Site(donations, settings, hub, limiter, figures, archive, clock)
    return WebServer(settings.listen, site=site, webhook=webhook, health=health, websub=websub)
