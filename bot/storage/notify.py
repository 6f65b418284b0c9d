"""LISTEN/NOTIFY between instances on PostgreSQL.

`Notifier.publish` sends a notification (through the pool, after the caller's commit);
every instance's listening connection hears it, this one's too, and calls the callbacks
subscribed to its channel. Outbox wake-ups travel on `outreach_outbox` (payload: the
platform) and ledger changes on `outreach_ledger` (payload: the campaign, '' when the
entry names none), which `bot.storage.ledger.append_entries` sends in the very transaction
that appends entries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from bot.storage.postgres import PostgresDatabase, close_connection

log = logging.getLogger(__name__)

OUTBOX = "outreach_outbox"
LEDGER = "outreach_ledger"

Callback = Callable[[str], None]


class Notifier:
    """One listening connection per instance, reopened when it drops."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self._callbacks: dict[str, list[Callback]] = {}
        self._conn: Any = None
        self._sends: set[asyncio.Task[None]] = set()

    def subscribe(self, channel: str, callback: Callback) -> None:
        """Call `callback(payload)` for each notification on `channel` (before `run`)."""
        self._callbacks.setdefault(channel, []).append(callback)

    def on_ledger_change(self, callback: Callback) -> None:
        """Call `callback(campaign)` whenever any instance appends a ledger entry."""
        self.subscribe(LEDGER, callback)

    def publish(self, channel: str, payload: str) -> None:
        """Notify every instance (fire and forget: a lost wake-up only delays the worker,
        which looks again on its own)."""
        task = asyncio.ensure_future(self._send(channel, payload))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(self, channel: str, payload: str) -> None:
        try:
            await self._db.execute("SELECT pg_notify(?, ?)", (channel, payload))
        except Exception as exc:
            log.debug("a notification was not sent: %s", type(exc).__name__)

    def _deliver(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        for callback in self._callbacks.get(channel, []):
            try:
                callback(payload)
            except Exception:
                log.exception("a notification callback failed")

    async def run(self, stop: asyncio.Event, *, retry: float = 1.0) -> None:
        """Listen until `stop`; a dropped connection is reopened (wake-ups then resume)."""
        while not stop.is_set():
            try:
                self._conn = await self._db.connect()
                for channel in self._callbacks:
                    await self._conn.add_listener(channel, self._deliver)
                # Whatever was missed while not listening: everyone looks once.
                for channel, callbacks in self._callbacks.items():
                    for callback in callbacks:
                        callback("*" if channel == OUTBOX else "")
                while not stop.is_set() and not self._conn.is_closed():
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=retry * 2)
                    except TimeoutError:
                        await self._conn.fetchval("SELECT 1", timeout=5)
            except Exception as exc:
                log.debug("listening connection lost: %s", type(exc).__name__)
            finally:
                await self._close()
            if not stop.is_set():
                await asyncio.sleep(retry)

    async def _close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await close_connection(conn)

    async def aclose(self) -> None:
        for task in list(self._sends):
            task.cancel()
        await self._close()
