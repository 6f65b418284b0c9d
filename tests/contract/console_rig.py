"""The console adapter's rig: a pipe for the person's typing, captured output as the observer."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
from collections.abc import AsyncIterator

from bot.adapters.console import ConsoleAdapter
from bot.chat import ChatKind, ChatRef, Incoming
from tests.contract.capabilities import CAPABILITIES
from tests.contract.rig import Refusing, Shown

PERSON = "ana"
# Every print starts with a header line naming the chat, "(edited)" after an edit.
_HEADER = re.compile(r"^── (?:#(?P<channel>\S+)|bot → (?P<person>\S+)) ──(?P<edited> \(edited\))?$")


def parse_transcript(output: str, chat: ChatRef) -> list[Shown]:
    """The posts printed for `chat`.

    The console cannot change what it printed: an edit is printed again under
    an "(edited)" header, so the current text of a post is its latest print.
    The transcript does not say which post an edit belongs to; it is the most
    recent one (the contract tests edit one post at a time).
    """
    posts: list[Shown] = []
    blocks: list[tuple[str, bool, list[str]]] = []
    for line in output.split("\n"):
        header = _HEADER.match(line)
        if header is not None:
            name = header["channel"] or header["person"]
            blocks.append((name, bool(header["edited"]), []))
        elif blocks:
            blocks[-1][2].append(line)
    for name, edited, lines in blocks:
        if name != chat.id:
            continue
        text = "\n".join(lines).strip("\n")
        shown = Shown(None, text, size=len(text))
        if edited and posts:
            posts[-1] = shown
        else:
            posts.append(shown)
    return posts


class ConsoleRig:
    """The console as a demo runs it; the chat is a console channel."""

    name = "console"
    caps = CAPABILITIES["console"]

    def __init__(self) -> None:
        self.output = io.StringIO()
        read_end, self._typing = os.pipe()
        self.ended = asyncio.Event()
        self.adapter = ConsoleAdapter(
            user=PERSON,
            on_eof=self.ended.set,
            stdin=open(read_end, encoding="utf-8"),  # noqa: SIM115 - closed in `running`
            stdout=self.output,
        )
        self.chat = ChatRef("console", "news", ChatKind.CHANNEL, "News")
        self._heard: asyncio.Queue[Incoming] = asyncio.Queue()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ConsoleRig]:
        await self.adapter.start(self._heard.put)
        try:
            yield self
        finally:
            os.close(self._typing)  # end of input: the reading thread hands over its end
            async with asyncio.timeout(5):
                await self.ended.wait()  # ... and is done with the pipe
            await self.adapter.stop()
            self.adapter.stdin.close()

    async def shown(self, chat: ChatRef) -> list[Shown]:
        return parse_transcript(self.output.getvalue(), chat)

    async def pinned(self, chat: ChatRef) -> list[str]:
        return []

    async def person_says(self, text: str) -> tuple[ChatRef, str]:
        os.write(self._typing, (text + "\n").encode())
        async with asyncio.timeout(5):
            heard = await self._heard.get()
        assert heard.text == text
        assert heard.message_id is not None
        return heard.chat, heard.message_id

    async def gone_chat(self, how: str) -> ChatRef:
        raise LookupError("a console chat never goes away (see CAPABILITIES)")

    async def move_chat(self, chat: ChatRef) -> str:
        raise LookupError("a console chat never moves (see CAPABILITIES)")

    async def rate_limited(self) -> Refusing:
        raise LookupError("the console has no rate limit (see CAPABILITIES)")

    async def unreachable(self) -> Refusing:
        raise LookupError("the console has no server to lose (see CAPABILITIES)")
