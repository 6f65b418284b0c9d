"""python-telegram-bot's HTTP backend on aiohttp, through PTB's public `BaseRequest` API.

PTB supports replacing its default httpx backend (`HTTPXRequest`) like this. A
sendMessage costs about 1.5 ms of CPU in httpx/httpcore against about 0.4 ms
in aiohttp (PTB's own part is about 0.2 ms), which at a fan-out of a few
hundred messages a second decides whether the bot keeps up, and which every
command reply waits for.
"""

from __future__ import annotations

import asyncio
import functools
import os
import urllib.parse
import urllib.request

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.logs import guard_loggers, quiet_below_warning

__all__ = ["AiohttpRequest"]


def _seconds_or(value: object, default: float | None) -> float | None:
    """A per-call timeout: PTB passes DEFAULT_NONE for "the request's own", None for none."""
    if value is BaseRequest.DEFAULT_NONE:  # how PTB's documentation says to tell
        return default
    if value is None or isinstance(value, int | float):
        return value
    raise TypeError(f"a timeout must be a number of seconds or None, not {type(value).__name__}")


def _sum_or_none(parts: tuple[float | None, ...]) -> float | None:
    """The sum of the waits, or None (no limit) when any of them has none."""
    return None if None in parts else sum(p or 0.0 for p in parts)


class AiohttpRequest(BaseRequest):
    """PTB's networking backend on aiohttp.

    Failures are raised so that the error mapping can tell what Telegram may have
    seen: a connection never made (refused, DNS, connect or pool timeout) is a
    plain NetworkError, nothing was sent and a retry is safe; any failure once the
    request may have been written (no answer in time, the connection dropped) is
    TimedOut, since Telegram may have acted on it. Messages never hold the URL,
    which holds the token.
    """

    def __init__(
        self,
        *,
        pool: int,
        read_timeout: float | None,
        connect_timeout: float | None = 5.0,
        write_timeout: float | None = 15.0,
        pool_timeout: float | None = 5.0,
    ) -> None:
        self._pool = pool
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._write_timeout = write_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str] = {}
        self._proxy_of: dict[str, str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None:
            # Proxies from the environment apply, as they did with httpx: read once here.
            # (aiohttp's trust_env would look them and ~/.netrc up in a thread for every
            # request, two thread hand-offs a message.)
            self._proxies = urllib.request.getproxies_environment()
            self._proxy_of = {}
            connector = aiohttp.TCPConnector(limit=self._pool)
            self._session = aiohttp.ClientSession(connector=connector)

    def _proxy(self, url: str) -> str | None:
        """The proxy the environment names for `url`'s scheme and host (None: direct)."""
        origin = url.split("/", 3)[:3]
        key = "/".join(origin)
        if key not in self._proxy_of:
            host = urllib.parse.urlsplit(url).hostname or ""
            proxy = self._proxies.get(origin[0].rstrip(":").lower())
            bypass = bool(proxy) and urllib.request.proxy_bypass(host)
            self._proxy_of[key] = None if bypass else proxy
        return self._proxy_of[key]

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def do_request(  # noqa: PLR0917 - PTB's signature
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        return await self._exchange(
            method,
            url,
            _body(request_data),
            {"User-Agent": self.USER_AGENT},
            _seconds_or(read_timeout, self._read_timeout),
            _seconds_or(write_timeout, self._write_timeout),
            _seconds_or(connect_timeout, self._connect_timeout),
            _seconds_or(pool_timeout, self._pool_timeout),
        )

    async def post_json(self, url: str, body: bytes) -> tuple[int, bytes]:
        """POST a serialised JSON body (the fan-out path's calls) with the default timeouts;
        failures are raised as by `do_request`."""
        headers = {"User-Agent": self.USER_AGENT, "Content-Type": "application/json"}
        return await self._exchange(
            "POST", url, body, headers, self._read_timeout, self._write_timeout,
            self._connect_timeout, self._pool_timeout,
        )  # fmt: skip

    async def _exchange(  # noqa: PLR0917 - one place for every call's timeouts
        self,
        method: str,
        url: str,
        data: aiohttp.FormData | dict[str, str] | bytes | None,
        headers: dict[str, str],
        read: float | None,
        write: float | None,
        connect: float | None,
        pool: float | None,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None:
            raise RuntimeError("this AiohttpRequest is not initialized")
        timeout, whole = _timeouts(read, write, connect, pool)
        try:
            # aiohttp has no write timeout: the whole exchange is bounded instead.
            async with asyncio.timeout(whole):
                async with session.request(
                    method,
                    url,
                    data=data,
                    headers=headers,
                    timeout=timeout,
                    proxy=self._proxy(url),
                ) as response:
                    return response.status, await response.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: not connected") from exc
        except aiohttp.InvalidURL as exc:
            raise NetworkError("aiohttp.InvalidURL: the API base URL is not valid") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TimedOut(f"aiohttp.{type(exc).__name__}: no answer from Telegram") from exc


@functools.lru_cache(maxsize=64)
def _timeouts(
    read: float | None, write: float | None, connect: float | None, pool: float | None
) -> tuple[aiohttp.ClientTimeout, float | None]:
    """aiohttp's timeouts for a call, and the bound on the whole exchange (made once for
    each combination: every fan-out send uses the same)."""
    timeout = aiohttp.ClientTimeout(
        total=None,
        # aiohttp's `connect` covers waiting for a pooled connection and making one.
        connect=_sum_or_none((connect, pool)),
        sock_connect=connect,
        sock_read=read,
    )
    return timeout, _sum_or_none((connect, pool, write, read))


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """Form fields as PTB encodes them; a multipart form when there are files."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    files = request_data.multipart_data
    if not files:
        return fields
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, part in files.items():
        filename, content, *mime = part
        form.add_field(name, content, filename=filename, content_type=mime[0] if mime else None)
    return form


# Loggers of the libraries that see the token: PTB's, and httpx's (PTB's default backend).
_GUARDED_LOGGERS = ("telegram", "httpx", "httpcore")


def new_request(pool: int, read_timeout: float) -> AiohttpRequest:
    return AiohttpRequest(pool=pool, read_timeout=read_timeout)


def prefer_timedelta_periods() -> None:
    """Opt in to PTB 23's time periods now (PTB 22 warns otherwise).

    PTB 22 warns on every read of a time period as a number, and RetryAfter
    reads its own in its constructor: a flood wait would log a deprecation
    warning (and fail a run with warnings as errors). `seconds` reads both forms.
    """
    os.environ.setdefault("PTB_TIMEDELTA", "true")


def guard_logs(*secrets: str | None) -> None:
    """Redact the secrets from PTB's loggers; keep httpx's request lines (URLs) out."""
    guard_loggers(_GUARDED_LOGGERS, secrets)
    quiet_below_warning(("httpx", "httpcore"))
