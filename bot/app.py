"""The composition root: builds every part from the config and runs their lifetimes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bot.adapters.console import ConsoleAdapter
from bot.chat import ChatAdapter, ChatError, Incoming
from bot.config import Config
from bot.context import Services
from bot.router import CommandRouter
from bot.storage import Database, open_database
from handlers import register_all

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 10.0

BackgroundJob = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class StartupError(Exception):
    """The bot cannot start with this configuration; the message says why."""


@dataclass
class ConsoleIO:
    """Where the console adapter reads and writes (the terminal unless a test says otherwise)."""

    stdin: TextIO | None = None
    stdout: TextIO | None = None


@dataclass
class App:
    """A wired bot: adapters, router and services around one database."""

    config: Config
    db: Database
    services: Services
    router: CommandRouter
    adapters: dict[str, ChatAdapter] = field(default_factory=dict)
    background: list[BackgroundJob] = field(default_factory=list)
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)

    async def dispatch(self, incoming: Incoming) -> None:
        """Handle one incoming update and send the reply straight back to its chat."""
        reply = await self.router.handle(incoming)
        if reply is None:
            return
        adapter = self.adapters[incoming.platform]
        key = f"reply:{incoming.platform}:{incoming.chat.id}:{incoming.message_id}"
        try:
            await adapter.send(incoming.chat, reply, key=key, reply_to=incoming.message_id)
        except ChatError as exc:
            log.warning("could not send a reply on %s: %s", incoming.platform, type(exc).__name__)

    def request_stop(self) -> None:
        self.stop_requested.set()

    async def run(self) -> None:
        """Start every adapter and background job; on stop, shut down within the grace period."""
        async with asyncio.TaskGroup() as tg:
            jobs = [tg.create_task(job(self.stop_requested)) for job in self.background]
            started: list[ChatAdapter] = []
            try:
                for adapter in self.adapters.values():
                    await adapter.start(self.dispatch)
                    started.append(adapter)
                log.info("running with %s", ", ".join(self.adapters) or "no adapters")
                await self.stop_requested.wait()
            finally:
                self.stop_requested.set()
                log.info("shutting down")
                for adapter in reversed(started):
                    await adapter.stop()
                if jobs:
                    _, pending = await asyncio.wait(jobs, timeout=SHUTDOWN_GRACE)
                    for task in pending:
                        log.warning("a background job did not stop in time; cancelling it")
                        task.cancel()


def build_adapters(config: Config, app: App, console_io: ConsoleIO) -> dict[str, ChatAdapter]:
    adapters: dict[str, ChatAdapter] = {}
    if config.console.enabled:
        adapters["console"] = ConsoleAdapter(
            user=config.console.user,
            on_eof=app.request_stop,
            stdin=console_io.stdin,
            stdout=console_io.stdout,
        )
    for platform in ("telegram", "matrix"):
        if platform in config.enabled_platforms():
            raise StartupError(
                f"[{platform}] enabled = true, but this version has no {platform} adapter yet"
            )
    if not adapters:
        raise StartupError("no chat platform is enabled: enable [console], [telegram] or [matrix]")
    return adapters


def build_app(config: Config, db: Database, console_io: ConsoleIO | None = None) -> App:
    services = Services(config=config, db=db)
    router = CommandRouter(services)
    register_all(router)
    app = App(config=config, db=db, services=services, router=router)
    app.adapters = build_adapters(config, app, console_io or ConsoleIO())
    return app


async def run_bot(
    config: Config, *, db_path: Path | None = None, console_io: ConsoleIO | None = None
) -> None:
    """Run the bot until EOF on the console, SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    async with open_database(db_path or config.database_path()) as db:
        app = build_app(config, db, console_io)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, app.request_stop)
        try:
            await app.run()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
