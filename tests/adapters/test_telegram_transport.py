"""PTB's aiohttp backend on its own, against a small local server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest

from bot.adapters.telegram_transport import AiohttpRequest


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    release = asyncio.Event()

    async def echo(request: web.Request) -> web.Response:
        form = await request.post()
        seen.append({k: v if isinstance(v, str) else f"file:{v.filename}" for k, v in form.items()})
        return web.json_response({"ok": True, "result": True})

    async def hang(request: web.Request) -> web.Response:
        async with asyncio.timeout(10):
            await release.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_post("/hang", hang)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        release.set()
        await runner.cleanup()


@pytest.fixture
async def request_() -> AsyncIterator[AiohttpRequest]:
    request = AiohttpRequest(pool=2, read_timeout=0.3)
    await request.initialize()
    try:
        yield request
    finally:
        await request.shutdown()


async def test_an_answer_comes_back_as_status_and_body(
    server: tuple[str, list[dict[str, str]]], request_: AiohttpRequest
) -> None:
    # Files (multipart) go through the adapter tests: the progress card is a sendPhoto upload.
    base, seen = server
    status, body = await request_.do_request(f"{base}/echo", "POST")
    assert (status, body) == (200, b'{"ok": true, "result": true}')
    assert seen == [{}]


async def test_no_answer_within_the_default_read_timeout_is_timed_out(
    server: tuple[str, list[dict[str, str]]], request_: AiohttpRequest
) -> None:
    base, _ = server
    async with asyncio.timeout(5):
        with pytest.raises(TimedOut):
            await request_.do_request(f"{base}/hang", "POST", read_timeout=BaseRequest.DEFAULT_NONE)


async def test_a_per_call_read_timeout_wins(
    server: tuple[str, list[dict[str, str]]], request_: AiohttpRequest
) -> None:
    base, _ = server
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimedOut):
        await request_.do_request(f"{base}/hang", "POST", read_timeout=0.05)
    assert loop.time() - started < 0.3  # not the request's own 0.3 s


async def test_a_refused_connection_is_a_plain_network_error(request_: AiohttpRequest) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = sock.getsockname()[1]
        with pytest.raises(NetworkError) as raised:
            await request_.do_request(f"http://127.0.0.1:{port}/bot", "POST")
    assert not isinstance(raised.value, TimedOut)  # nothing was sent: safe to retry
    assert str(port) not in str(raised.value)  # messages never quote the URL


async def test_a_timeout_that_is_not_a_number_is_refused(request_: AiohttpRequest) -> None:
    with pytest.raises(TypeError):
        await request_.do_request("http://127.0.0.1:1/", "POST", read_timeout="soon")
