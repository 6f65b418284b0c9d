"""The webhook server on its own: the secret header, the body check, the sink's answer."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.adapters.telegram_webhook import SECRET_HEADER, WebhookServer, split_listen


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sink:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.updates: list[dict[str, Any]] = []

    async def __call__(self, update: dict[str, Any]) -> int:
        self.updates.append(update)
        return self.status


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Sink]]:
    port, sink = free_port(), Sink()
    url = f"http://127.0.0.1:{port}/hook/path"
    server = WebhookServer(url=url, listen=f"127.0.0.1:{port}", secret="s3cret-Token", sink=sink)
    await server.start()
    try:
        yield url, sink
    finally:
        await server.stop()


async def post(url: str, body: bytes, secret: str | None) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    timeout = aiohttp.ClientTimeout(total=5)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        return response.status


async def test_an_update_with_the_secret_reaches_the_sink(served: tuple[str, Sink]) -> None:
    url, sink = served
    assert await post(url, b'{"update_id": 7}', "s3cret-Token") == 200
    assert sink.updates == [{"update_id": 7}]


async def test_a_wrong_or_missing_secret_is_refused(served: tuple[str, Sink]) -> None:
    url, sink = served
    assert await post(url, b'{"update_id": 7}', "guess") == 403
    assert await post(url, b'{"update_id": 7}', None) == 403
    assert sink.updates == []


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe", b'"text"'])
async def test_a_body_that_is_not_a_json_object_is_a_bad_request(
    served: tuple[str, Sink], body: bytes
) -> None:
    url, sink = served
    assert await post(url, body, "s3cret-Token") == 400
    assert sink.updates == []


async def test_the_sink_decides_the_answer(served: tuple[str, Sink]) -> None:
    url, sink = served
    sink.status = 503  # e.g. the adapter is stopping
    assert await post(url, b"{}", "s3cret-Token") == 503


def test_listen_addresses() -> None:
    assert split_listen("127.0.0.1:8443") == ("127.0.0.1", 8443)
    assert split_listen("[::1]:8443") == ("::1", 8443)
    assert split_listen(":8443") == ("127.0.0.1", 8443)
