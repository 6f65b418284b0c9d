"""`GET /healthz` for a load balancer: 200 while storage answers, 503 when it does not."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

from bot.storage import Database

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0


class Health:
    """This instance's name and roles, and whether its database answers."""

    def __init__(self, db: Database, instance: str, roles: Callable[[], list[str]]) -> None:
        self._db = db
        self._instance = instance
        self._roles = roles

    async def storage_ok(self) -> bool:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                await self._db.fetch_one("SELECT 1 AS ok")
        except Exception as exc:
            log.debug("health check: storage unreachable (%s)", type(exc).__name__)
            return False
        return True

    async def handle(self, request: web.Request) -> web.Response:
        ok = await self.storage_ok()
        body = {
            "status": "ok" if ok else "storage unreachable",
            "instance": self._instance,
            "roles": self._roles() if ok else [],
        }
        headers = {"Cache-Control": "no-store"}
        return web.json_response(body, status=200 if ok else 503, headers=headers)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/healthz", self.handle)]
