"""One aiohttp app bound to one address: start, stop and serve-until-stopped.

The `[web]` server and the standalone Stripe webhook server share this; each
says only which app it serves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger(__name__)


def split_listen(listen: str) -> tuple[str, int]:
    """ "127.0.0.1:8080" -> ("127.0.0.1", 8080); "[::1]:8080" -> ("::1", 8080)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class Listener:
    """Serves the app `make_app` builds on `listen` (port 0: any free port, see `port`)."""

    def __init__(
        self,
        listen: str,
        make_app: Callable[[], web.Application],
        *,
        name: str,
        shutdown_timeout: float = 60.0,
    ) -> None:
        self.host, self.port = split_listen(listen)
        self.listening = asyncio.Event()  # set once the port is bound
        self._make_app = make_app
        self._name = name
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Bind and serve; returns the port actually bound."""
        runner = web.AppRunner(
            self._make_app(),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=self._shutdown_timeout,
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
        log.info("%s listening on %s:%d", self._name, self.host, self.port)
        return self.port

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        self.listening.clear()
        if runner is not None:
            await runner.cleanup()
