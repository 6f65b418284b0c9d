"""FeedFetcher against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

from bot.feeds.fetch import (
    BlockedAddress,
    FeedFetcher,
    Fetched,
    FetchError,
    FetchState,
    NotModified,
    is_private_address,
    parse_retry_after,
)

FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"
UA = "outreach-bot-test/1.0 (+https://example.org/bot)"
LIMIT = 5.0  # seconds any single test step may take


@dataclass
class FeedSite:
    """The stand-in server: records what it was sent, lets a slow handler go at teardown."""

    server: TestServer
    seen: list[tuple[str, CIMultiDictProxy[str]]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    def paths(self) -> list[str]:
        return [path for path, _ in self.seen]


async def _etag(request: web.Request) -> web.Response:
    if request.headers.get("If-None-Match") == '"v1"':
        return web.Response(status=304)
    return web.Response(body=FEED, content_type="application/rss+xml", headers={"ETag": '"v1"'})


async def _last_modified(request: web.Request) -> web.Response:
    if request.headers.get("If-Modified-Since") == LAST_MODIFIED:
        return web.Response(status=304)
    return web.Response(body=FEED, headers={"Last-Modified": LAST_MODIFIED})


async def _gzipped(request: web.Request) -> web.Response:
    return web.Response(body=gzip.compress(FEED), headers={"Content-Encoding": "gzip"})


async def _big(request: web.Request) -> web.Response:
    return web.Response(body=b"x" * 5000)


async def _endless_chunks(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        for _ in range(1000):
            await response.write(b"x" * 512)
            await asyncio.sleep(0)
    except ConnectionResetError:
        pass  # the client hung up, which is what the test wants
    return response


async def _chain(request: web.Request) -> web.Response:
    # /chain/301,308 answers 301 to /chain/308, which answers 308 to /chain/, which is the feed.
    codes = [c for c in request.match_info["codes"].split(",") if c]
    if not codes:
        return web.Response(body=FEED)
    rest = ",".join(codes[1:])
    return web.Response(status=int(codes[0]), headers={"Location": f"/chain/{rest}"})


async def _count(request: web.Request) -> web.Response:
    left = int(request.match_info["left"])
    if left == 0:
        return web.Response(body=FEED)
    return web.Response(status=302, headers={"Location": f"/count/{left - 1}"})


async def _relative_start(request: web.Request) -> web.Response:
    return web.Response(status=301, headers={"Location": "target"})


async def _relative_target(request: web.Request) -> web.Response:
    return web.Response(body=FEED)


async def _moved(request: web.Request) -> web.Response:
    return web.Response(status=308, headers={"Location": "/etag"})


async def _to_ftp(request: web.Request) -> web.Response:
    return web.Response(status=301, headers={"Location": "ftp://example.org/feed"})


async def _too_many_requests(request: web.Request) -> web.Response:
    return web.Response(status=429, headers={"Retry-After": "120"})


async def _unavailable(request: web.Request) -> web.Response:
    when = email.utils.formatdate(time.time() + 60, usegmt=True)
    return web.Response(status=503, headers={"Retry-After": when})


@pytest.fixture
async def site() -> AsyncIterator[FeedSite]:
    app = web.Application()
    holder: list[FeedSite] = []

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        holder[0].seen.append((request.path, request.headers))
        return await handler(request)

    async def slow(request: web.Request) -> web.Response:
        async with asyncio.timeout(LIMIT):
            await holder[0].release.wait()
        return web.Response(body=FEED)

    app.middlewares.append(record)
    app.router.add_get("/etag", _etag)
    app.router.add_get("/last-modified", _last_modified)
    app.router.add_get("/gzip", _gzipped)
    app.router.add_get("/big", _big)
    app.router.add_get("/chunked", _endless_chunks)
    app.router.add_get("/chain/{codes:.*}", _chain)
    app.router.add_get("/count/{left}", _count)
    app.router.add_get("/rel/start", _relative_start)
    app.router.add_get("/rel/target", _relative_target)
    app.router.add_get("/moved", _moved)
    app.router.add_get("/to-ftp", _to_ftp)
    app.router.add_get("/429", _too_many_requests)
    app.router.add_get("/503", _unavailable)
    app.router.add_get("/slow", slow)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    holder.append(FeedSite(server))
    try:
        yield holder[0]
    finally:
        holder[0].release.set()
        await server.close()


@pytest.fixture
async def fetcher() -> AsyncIterator[FeedFetcher]:
    async with FeedFetcher(user_agent=UA, allow_private=True) as f:
        yield f


async def fetch(fetcher: FeedFetcher, state: FetchState) -> Fetched | NotModified:
    async with asyncio.timeout(LIMIT):
        return await fetcher.fetch(state)


async def fetch_error(fetcher: FeedFetcher, state: FetchState) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetch(fetcher, state)
    return caught.value


async def test_etag_turns_the_second_poll_into_not_modified(
    site: FeedSite, fetcher: FeedFetcher
) -> None:
    first = await fetch(fetcher, FetchState(site.url("/etag")))
    assert isinstance(first, Fetched)
    assert first.body == FEED
    assert first.etag == '"v1"'
    assert first.content_type == "application/rss+xml"
    assert first.permanent_redirect is None

    second = await fetch(fetcher, FetchState(site.url("/etag"), etag=first.etag))
    assert second == NotModified(permanent_redirect=None)
    assert site.seen[1][1]["If-None-Match"] == '"v1"'
    assert "If-None-Match" not in site.seen[0][1]


async def test_last_modified_turns_the_second_poll_into_not_modified(
    site: FeedSite, fetcher: FeedFetcher
) -> None:
    first = await fetch(fetcher, FetchState(site.url("/last-modified")))
    assert isinstance(first, Fetched)
    assert first.last_modified == LAST_MODIFIED

    state = FetchState(site.url("/last-modified"), last_modified=first.last_modified)
    assert isinstance(await fetch(fetcher, state), NotModified)
    assert site.seen[1][1]["If-Modified-Since"] == LAST_MODIFIED


async def test_gzip_body_is_decoded(site: FeedSite, fetcher: FeedFetcher) -> None:
    result = await fetch(fetcher, FetchState(site.url("/gzip")))
    assert isinstance(result, Fetched)
    assert result.body == FEED
    assert site.seen[0][1]["Accept-Encoding"] == "gzip"


async def test_identifies_itself_and_asks_for_feeds(site: FeedSite, fetcher: FeedFetcher) -> None:
    await fetch(fetcher, FetchState(site.url("/etag")))
    headers = site.seen[0][1]
    assert headers["User-Agent"] == UA
    assert "application/rss+xml" in headers["Accept"]
    assert "application/atom+xml" in headers["Accept"]


@pytest.mark.parametrize("path", ["/big", "/chunked"])
async def test_body_over_the_cap_is_refused(site: FeedSite, path: str) -> None:
    async with FeedFetcher(user_agent=UA, allow_private=True, max_bytes=4096) as small:
        error = await fetch_error(small, FetchState(site.url(path)))
    assert str(error) == "body larger than 4 KiB"


async def test_body_exactly_at_the_cap_is_accepted(site: FeedSite) -> None:
    async with FeedFetcher(user_agent=UA, allow_private=True, max_bytes=5000) as exact:
        result = await fetch(exact, FetchState(site.url("/big")))
    assert isinstance(result, Fetched)
    assert len(result.body) == 5000


async def test_five_redirects_are_followed(site: FeedSite, fetcher: FeedFetcher) -> None:
    result = await fetch(fetcher, FetchState(site.url("/count/5")))
    assert isinstance(result, Fetched)
    assert result.final_url == site.url("/count/0")


async def test_six_redirects_are_refused(site: FeedSite, fetcher: FeedFetcher) -> None:
    error = await fetch_error(fetcher, FetchState(site.url("/count/6")))
    assert str(error) == "too many redirects (more than 5)"
    assert len(site.seen) == 6


async def test_permanent_redirects_report_the_new_url(site: FeedSite, fetcher: FeedFetcher) -> None:
    result = await fetch(fetcher, FetchState(site.url("/chain/301,308")))
    assert isinstance(result, Fetched)
    assert result.final_url == site.url("/chain/")
    assert result.permanent_redirect == site.url("/chain/")


async def test_a_temporary_hop_means_no_new_url(site: FeedSite, fetcher: FeedFetcher) -> None:
    result = await fetch(fetcher, FetchState(site.url("/chain/301,302,308")))
    assert isinstance(result, Fetched)
    assert result.final_url == site.url("/chain/")
    assert result.permanent_redirect is None


async def test_not_modified_after_a_permanent_redirect_reports_the_new_url(
    site: FeedSite, fetcher: FeedFetcher
) -> None:
    result = await fetch(fetcher, FetchState(site.url("/moved"), etag='"v1"'))
    assert result == NotModified(permanent_redirect=site.url("/etag"))
    assert site.seen[1][1]["If-None-Match"] == '"v1"'


async def test_relative_location_is_resolved(site: FeedSite, fetcher: FeedFetcher) -> None:
    result = await fetch(fetcher, FetchState(site.url("/rel/start")))
    assert isinstance(result, Fetched)
    assert result.final_url == site.url("/rel/target")
    assert result.permanent_redirect == site.url("/rel/target")


async def test_429_reports_retry_after_seconds(site: FeedSite, fetcher: FeedFetcher) -> None:
    error = await fetch_error(fetcher, FetchState(site.url("/429")))
    assert str(error) == "HTTP 429 Too Many Requests"
    assert error.retry_after == 120.0


async def test_503_reports_retry_after_from_an_http_date(
    site: FeedSite, fetcher: FeedFetcher
) -> None:
    error = await fetch_error(fetcher, FetchState(site.url("/503")))
    assert "503" in str(error)
    assert error.retry_after is not None
    assert 55.0 <= error.retry_after <= 61.0


async def test_404_is_an_error_without_retry_after(site: FeedSite, fetcher: FeedFetcher) -> None:
    error = await fetch_error(fetcher, FetchState(site.url("/missing")))
    assert str(error) == "HTTP 404 Not Found"
    assert error.retry_after is None


async def test_slow_server_times_out(site: FeedSite) -> None:
    async with FeedFetcher(user_agent=UA, allow_private=True, timeout=0.2) as quick:
        error = await fetch_error(quick, FetchState(site.url("/slow")))
    assert str(error) == "timed out after 0.2 s"


async def test_refused_connection_is_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with FeedFetcher(user_agent=UA, allow_private=True) as f:
        error = await fetch_error(f, FetchState(f"http://127.0.0.1:{port}/feed"))
    assert str(error).startswith("connection failed: ")


async def test_loopback_is_refused_without_allow_private(site: FeedSite) -> None:
    async with FeedFetcher(user_agent=UA) as guarded:
        error = await fetch_error(guarded, FetchState(site.url("/etag")))
    assert isinstance(error, BlockedAddress)
    assert str(error) == (
        "feed host resolves to a private address 127.0.0.1; set allow_private = true to allow it"
    )
    assert site.seen == []


async def test_a_name_resolving_to_loopback_is_refused_at_connect_time(site: FeedSite) -> None:
    # "localhost" is not an IP literal, so this goes through the connector's resolver.
    url = f"http://localhost:{site.server.port}/etag"
    async with FeedFetcher(user_agent=UA) as guarded:
        error = await fetch_error(guarded, FetchState(url))
    assert isinstance(error, BlockedAddress)
    assert "allow_private" in str(error)
    assert site.seen == []


async def test_a_numeric_ipv4_alias_of_loopback_is_refused(site: FeedSite) -> None:
    # 2130706433 is 127.0.0.1 written as one number.
    url = f"http://2130706433:{site.server.port}/etag"
    async with FeedFetcher(user_agent=UA) as guarded:
        await fetch_error(guarded, FetchState(url))
    assert site.seen == []


async def test_loopback_is_fetched_with_allow_private(site: FeedSite) -> None:
    async with FeedFetcher(user_agent=UA, allow_private=True) as open_fetcher:
        result = await fetch(open_fetcher, FetchState(site.url("/etag")))
    assert isinstance(result, Fetched)


@pytest.mark.parametrize("url", ["ftp://example.org/feed", "file:///etc/passwd"])
async def test_other_schemes_are_refused(fetcher: FeedFetcher, url: str) -> None:
    error = await fetch_error(fetcher, FetchState(url))
    assert "only http and https" in str(error)


async def test_a_redirect_to_another_scheme_is_refused(
    site: FeedSite, fetcher: FeedFetcher
) -> None:
    error = await fetch_error(fetcher, FetchState(site.url("/to-ftp")))
    assert "only http and https" in str(error)


async def test_fetch_before_start_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError):
        await FeedFetcher(user_agent=UA).fetch(FetchState("http://example.org/"))


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "192.168.1.1",
        "172.16.0.1",
        "127.0.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fe80::1%1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.5",
    ],
)
def test_private_addresses_are_classified_private(address: str) -> None:
    assert is_private_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860::", "::ffff:8.8.8.8"])
def test_public_addresses_are_classified_public(address: str) -> None:
    assert not is_private_address(address)


def test_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None
