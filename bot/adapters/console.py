"""The console adapter: the person at the terminal is a chat user.

Works interactively and through a pipe. Posts to console channels are
printed under the channel's name, so a demo shows what a real channel would
receive.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from bot.chat import (
    ChatKind,
    ChatRef,
    Incoming,
    OnIncoming,
    PlatformLimits,
    Post,
    Sender,
    SentRef,
)
from bot.chat.pacing import CallGate
from bot.chat.plain import lang_of, render_plain


class ConsoleAdapter:
    platform = "console"
    limits = PlatformLimits(
        text_max=64_000, caption_max=64_000, global_rate=0.0, per_chat_interval=0.0
    )

    def __init__(
        self,
        *,
        user: str,
        on_eof: Callable[[], None],
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self.user = user
        self.on_eof = on_eof
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self._ids = itertools.count(1)
        self._pump: asyncio.Task[None] | None = None
        self._stopping = False
        self.pacing = CallGate.unlimited()

    @property
    def user_chat(self) -> ChatRef:
        return ChatRef("console", self.user, ChatKind.PRIVATE, self.user)

    async def start(self, on_incoming: OnIncoming | None) -> None:
        if on_incoming is None:
            return
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        def read() -> None:
            # A daemon thread: a blocked readline must never keep the process alive.
            for line in self.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)

        threading.Thread(target=read, name="console-stdin", daemon=True).start()
        self._pump = asyncio.create_task(self._read_loop(lines, on_incoming), name="console")

    async def _read_loop(self, lines: asyncio.Queue[str | None], on_incoming: OnIncoming) -> None:
        sender = Sender("console", self.user, self.user)
        try:
            while (line := await lines.get()) is not None and not self._stopping:
                text = line.strip()
                if text:
                    # One line at a time, so replies come out in the order lines went in.
                    await on_incoming(
                        Incoming(self.user_chat, sender, text, message_id=str(next(self._ids)))
                    )
        finally:
            # End of input, or the terminal went away: either way the session is over.
            if not self._stopping:
                self.on_eof()

    def _write(self, text: str) -> None:
        try:
            self.stdout.write(text + "\n")
            self.stdout.flush()
        except (BrokenPipeError, ValueError):
            # The reader is gone (`| head`, a closed terminal): nobody sees the console
            # any more, so the session ends instead of failing every later send.
            if not self._stopping:
                self._stopping = True
                self.on_eof()

    def _header(self, chat: ChatRef) -> str:
        if chat.kind is ChatKind.PRIVATE:
            return f"── bot → {chat.id} ──"
        return f"── #{chat.id} ──"

    async def send(
        self, chat: ChatRef, post: Post, *, key: str, reply_to: str | None = None
    ) -> SentRef:
        message_id = str(next(self._ids))
        self._write(f"{self._header(chat)}\n{render_plain(post)}\n")
        return SentRef(chat, message_id)

    async def edit(self, sent: SentRef, post: Post, *, key: str) -> SentRef:
        # Translators: after the console's chat header, e.g. "── #news ── (edited)".
        edited = lang_of(post).gettext("(edited)")
        self._write(f"{self._header(sent.chat)} {edited}\n{render_plain(post)}\n")
        return sent

    async def stop(self) -> None:
        self._stopping = True
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        self._pump = None
