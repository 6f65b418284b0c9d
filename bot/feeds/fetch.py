"""Fetch feed documents over HTTP: conditional GETs, capped bodies, guarded redirects.

Pure HTTP: no parsing and no storage. The caller keeps a `FetchState` between polls
and gets back either the body (`Fetched`) or `NotModified`; every failure is a
`FetchError` whose message can be shown to an operator as it is.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import socket
import time
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Self

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

log = logging.getLogger(__name__)

_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})
_RETRYABLE = frozenset({429, 503})
_CHUNK = 64 * 1024
MAX_BYTES = 5 * 1024 * 1024  # the largest feed document read (a WebSub push too)


@dataclass(frozen=True, slots=True)
class FetchState:
    """What the caller remembers about a feed between polls."""

    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    """A 2xx response with its whole (decompressed) body."""

    body: bytes
    etag: str | None
    last_modified: str | None
    final_url: str
    content_type: str | None
    # Set only when every hop was 301/308, so the caller may store the new URL.
    permanent_redirect: str | None


@dataclass(frozen=True, slots=True)
class NotModified:
    """A 304: the feed is unchanged since the validators in the `FetchState`."""

    permanent_redirect: str | None


class FetchError(Exception):
    """A fetch failed; the message says why in words an operator understands."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        # Seconds the server asked us to wait (429/503 Retry-After), else None.
        self.retry_after = retry_after


class BlockedAddress(FetchError):
    """The feed host is (or resolves to) an address that `allow_private` must permit."""


def is_private_address(address: str) -> bool:
    """Tell whether an IP address literal must not be fetched from without `allow_private`.

    Loopback, private, link-local, unspecified, multicast and reserved addresses are
    refused; an IPv4-mapped IPv6 address is judged by the IPv4 address it carries.
    Raises `ValueError` when `address` is not an IP address.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
    )


def _blocked(address: str) -> BlockedAddress:
    return BlockedAddress(
        f"feed host resolves to a private address {address}; set allow_private = true to allow it"
    )


class _GuardedResolver(AbstractResolver):
    """Resolves through getaddrinfo and refuses private answers at connect time.

    Checking inside the connector (not only before the request) closes the
    DNS-rebinding gap: the addresses checked are the ones actually connected to.
    """

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if is_private_address(result["host"]):
                log.info("refused feed host %s: resolves to %s", host, result["host"])
                raise _blocked(result["host"])
        return results

    async def close(self) -> None:
        await self._inner.close()


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Turn a Retry-After header (delta-seconds or HTTP date) into seconds from now."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None  # HTTP dates are GMT; a zone-less date is not one.
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _size(n: int) -> str:
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


def _status_error(response: aiohttp.ClientResponse) -> FetchError:
    try:
        reason = response.reason or HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    message = f"HTTP {response.status} {reason}".rstrip()
    retry_after = None
    if response.status in _RETRYABLE:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
    return FetchError(message, retry_after=retry_after)


def _check_url(url: URL, *, allow_private: bool) -> None:
    """Refuse what must not be requested before any connection is made."""
    if url.scheme not in ("http", "https"):
        raise FetchError(f"unsupported URL scheme {url.scheme!r}: only http and https")
    host = url.raw_host
    if not host:
        raise FetchError(f"invalid URL {str(url)!r}: no host")
    if allow_private:
        return
    # The connector never resolves IP literals, so they are checked here; host
    # names are checked by _GuardedResolver when they are resolved.
    try:
        private = is_private_address(host)
    except ValueError:
        return
    if private:
        log.info("refused feed host %s", host)
        raise _blocked(host)


class FeedFetcher:
    """Fetches feeds over one `aiohttp.ClientSession`; use as an async context manager."""

    def __init__(
        self,
        *,
        user_agent: str,
        allow_private: bool = False,
        timeout: float = 20.0,
        max_bytes: int = MAX_BYTES,
        max_redirects: int = 5,
    ) -> None:
        self._user_agent = user_agent
        self._allow_private = allow_private
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._session: aiohttp.ClientSession | None = None
        self._resolver: AbstractResolver | None = None

    async def start(self) -> None:
        """Open the HTTP session; must run inside the event loop that will fetch."""
        if self._session is not None:
            return
        if not self._allow_private:
            self._resolver = _GuardedResolver()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=self._resolver),
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            headers={
                "User-Agent": self._user_agent,
                "Accept": _ACCEPT,
                "Accept-Encoding": "gzip",
            },
        )

    async def close(self) -> None:
        """Close the session and its connections; the fetcher may be started again."""
        session, self._session = self._session, None
        resolver, self._resolver = self._resolver, None
        if session is not None:
            await session.close()
        # The connector only closes resolvers it created itself.
        if resolver is not None:
            await resolver.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def fetch(self, state: FetchState) -> Fetched | NotModified:
        """GET the feed at `state.url`, conditionally on the validators in `state`.

        Redirects are followed up to `max_redirects`; the whole fetch, redirects
        included, must finish within `timeout` seconds. Raises `FetchError`
        (or `BlockedAddress`) on any failure.
        """
        if self._session is None:
            raise RuntimeError("FeedFetcher.fetch() called before start()")
        try:
            # ClientTimeout bounds each request; this bounds the redirect chain too.
            async with asyncio.timeout(self._timeout):
                return await self._follow(self._session, state)
        except TimeoutError as exc:
            log.info("feed fetch timed out: %s", state.url)
            raise FetchError(f"timed out after {self._timeout:g} s") from exc
        except aiohttp.InvalidURL as exc:
            raise FetchError(f"invalid URL: {exc}") from exc
        except aiohttp.ClientPayloadError as exc:
            raise FetchError(f"body could not be read: {exc}") from exc
        except aiohttp.ClientConnectionError as exc:
            raise FetchError(f"connection failed: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise FetchError(f"request failed: {exc}") from exc

    def _conditional_headers(self, state: FetchState) -> dict[str, str]:
        headers = {}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        return headers

    async def _follow(
        self, session: aiohttp.ClientSession, state: FetchState
    ) -> Fetched | NotModified:
        try:
            url = URL(state.url)
        except (TypeError, ValueError) as exc:
            raise FetchError(f"invalid URL {state.url!r}: {exc}") from exc
        headers = self._conditional_headers(state)
        hops = 0
        all_permanent = True
        while True:
            _check_url(url, allow_private=self._allow_private)
            async with session.get(url, headers=headers, allow_redirects=False) as response:
                log.debug("GET %s -> %d", url, response.status)
                if response.status not in _REDIRECTS:
                    moved = str(url) if hops and all_permanent else None
                    return await self._conclude(response, url, moved)
                location = response.headers.get("Location")
                if not location:
                    raise FetchError(f"HTTP {response.status} redirect without a Location")
                hops += 1
                if hops > self._max_redirects:
                    raise FetchError(f"too many redirects (more than {self._max_redirects})")
                all_permanent = all_permanent and response.status in _PERMANENT_REDIRECTS
                try:
                    url = response.url.join(URL(location))
                except ValueError as exc:
                    raise FetchError(f"invalid redirect Location {location!r}") from exc

    async def _conclude(
        self, response: aiohttp.ClientResponse, url: URL, moved: str | None
    ) -> Fetched | NotModified:
        if response.status == 304:
            return NotModified(permanent_redirect=moved)
        if not 200 <= response.status < 300:
            raise _status_error(response)
        body = await self._read_capped(response)
        log.debug("fetched %s: %d bytes", url, len(body))
        return Fetched(
            body=body,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            final_url=str(url),
            content_type=response.headers.get("Content-Type"),
            permanent_redirect=moved,
        )

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        too_large = FetchError(f"body larger than {_size(self._max_bytes)}")
        declared = response.content_length
        if declared is not None and declared > self._max_bytes:
            response.close()
            raise too_large
        # Counted after decompression, so a small gzip bomb is caught as well.
        chunks: list[bytes] = []
        total = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            total += len(chunk)
            if total > self._max_bytes:
                # Closing (not releasing) drops the connection instead of draining it.
                response.close()
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)


# For other requests to addresses a feed names (its WebSub hub): the same guards.
GuardedResolver = _GuardedResolver
check_url = _check_url
