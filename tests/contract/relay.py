"""A TCP relay on 127.0.0.1 that a test can take down and bring back on the same port.

The bot talks to a real server through it; closing the relay is what a lost
network looks like to the client: open connections drop and new ones are refused.
"""

from __future__ import annotations

import asyncio

_CHUNK = 65_536
_CLOSE_WAIT = 5.0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


class Relay:
    """Forwards every connection to `127.0.0.1:target_port`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    async def open(cls, target_port: int) -> Relay:
        relay = cls(target_port)
        await relay.reopen()
        return relay

    async def reopen(self) -> None:
        """Listen (again, on the same port once it has one)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._writers.add(writer)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            except OSError:
                writer.close()
                return
            self._writers.add(up_writer)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._connections.discard(task)

    async def close(self) -> None:
        """Stop listening and drop every open connection; returns once they are gone."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        async with asyncio.timeout(_CLOSE_WAIT):
            await server.wait_closed()
            if self._connections:
                await asyncio.wait(set(self._connections))
        # Let the client's side of each dropped connection see that it is closed.
        await asyncio.sleep(0.05)
