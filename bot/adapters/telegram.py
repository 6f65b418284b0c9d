"""The Telegram adapter: python-telegram-bot's Application run inside the bot's own lifetime.

PTB does the Bot API calls and update parsing; rendering (`telegram_render`)
and the update/error mapping (`telegram_map`) are pure. PTB's HTTP goes through
aiohttp (`AiohttpRequest`) instead of its default httpx backend: a sendMessage
cost about 1.5 ms of CPU in httpx/httpcore against about 0.4 ms in aiohttp (PTB's
own part is about 0.2 ms), which at a fan-out of a few hundred messages a second
decides whether the bot keeps up, and which every command reply waits for. Our
outbox paces every send, so no PTB rate limiter is installed and nothing is
retried automatically.
Updates arrive by long polling, or by webhook when `webhook_url` is set (served
with aiohttp here, the secret token compared in constant time).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dtm
import hmac
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, ApplicationBuilder, ExtBot, TypeHandler
from telegram.request import BaseRequest, RequestData

from bot.adapters.telegram_map import guard_logs, redact, seconds, to_chat_error, to_incoming
from bot.adapters.telegram_render import (
    CALLBACK_PREFIX,
    SEND_PHOTO,
    TELEGRAM_LIMITS,
    InlineButton,
    Payload,
    callback_data_for,
    render,
    render_caption,
)
from bot.chat import (
    ChatRef,
    Incoming,
    MaybeDelivered,
    OnIncoming,
    PlatformLimits,
    Post,
    SentRef,
    Transient,
)

__all__ = [
    "ALLOWED_UPDATES",
    "EXPIRED_BUTTON",
    "TELEGRAM_LIMITS",
    "AiohttpRequest",
    "TelegramAdapter",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
PtbApp = Application[Any, Any, Any, Any, Any, Any]

ALLOWED_UPDATES = ("message", "channel_post", "callback_query", "my_chat_member")
EXPIRED_BUTTON = "This button has expired; please send the command again."
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
_MAX_BUTTON_TOKENS = 10_000
_STOP_GRACE = 20.0  # a send in flight gets this long to finish before the client closes
_FOLLOW_UP_WAIT = 5.0  # the longest flood wait worth sitting out between a photo and its text
# sendPhoto failures that concern the image, not the chat: the post still goes out as text.
_BAD_IMAGE = ("wrong file identifier", "http url", "web page content", "image_process", "photo_")


def _markup(rows: tuple[tuple[InlineButton, ...], ...]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.label, url=b.url, callback_data=b.callback_data) for b in row]
            for row in rows
        ]
    )


def _seconds_or(value: ODVInput[float], default: float | None) -> float | None:
    """A per-call timeout: PTB passes DEFAULT_NONE for "the request's own", None for none."""
    return default if isinstance(value, DefaultValue) else value


class AiohttpRequest(BaseRequest):
    """PTB's networking backend on aiohttp (PTB supports replacing HTTPXRequest like this).

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

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None:
            # trust_env: proxies from the environment apply, as they did with httpx.
            connector = aiohttp.TCPConnector(limit=self._pool)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=True)

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def do_request(  # noqa: PLR0917 - PTB's signature
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None:
            raise RuntimeError("this AiohttpRequest is not initialized")
        read = _seconds_or(read_timeout, self._read_timeout)
        write = _seconds_or(write_timeout, self._write_timeout)
        connect = _seconds_or(connect_timeout, self._connect_timeout)
        pool = _seconds_or(pool_timeout, self._pool_timeout)
        # aiohttp's `connect` covers waiting for a pooled connection and making one.
        waits = (connect, pool)
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if None in waits else sum(w or 0.0 for w in waits),
            sock_connect=connect,
            sock_read=read,
        )
        # aiohttp has no write timeout: the whole exchange is bounded instead.
        parts = (connect, pool, write, read)
        limit = None if None in parts else sum(p or 0.0 for p in parts)
        try:
            async with asyncio.timeout(limit):
                async with session.request(
                    method,
                    url,
                    data=_body(request_data),
                    headers={"User-Agent": self.USER_AGENT},
                    timeout=timeout,
                ) as response:
                    return response.status, await response.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: not connected") from exc
        except aiohttp.InvalidURL as exc:
            raise NetworkError("aiohttp.InvalidURL: the API base URL is not valid") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TimedOut(f"aiohttp.{type(exc).__name__}: no answer from Telegram") from exc


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


def _request(pool: int, read_timeout: float) -> AiohttpRequest:
    return AiohttpRequest(pool=pool, read_timeout=read_timeout)


class TelegramAdapter:
    """Telegram behind the ChatAdapter interface."""

    platform = "telegram"

    def __init__(
        self,
        *,
        token: str,
        api_base: str = "https://api.telegram.org/bot",
        webhook_url: str | None = None,
        webhook_listen: str = "127.0.0.1:8443",
        webhook_secret: str | None = None,
        poll_timeout: float = 10.0,
        limits: PlatformLimits | None = None,
        read_timeout: float = 15.0,
    ) -> None:
        self.limits = limits or TELEGRAM_LIMITS
        self.api_base = api_base
        self.webhook_url = webhook_url
        self.webhook_listen = webhook_listen
        self.poll_timeout = poll_timeout
        self.read_timeout = read_timeout
        self._token = token
        self._webhook_secret = webhook_secret
        self._app: PtbApp | None = None
        self._webhook: web.AppRunner | None = None
        self._on_incoming: OnIncoming | None = None
        self._username = ""
        self._closed = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._stop_lock = asyncio.Lock()
        self._buttons: OrderedDict[str, str] = OrderedDict()  # callback token -> command
        guard_logs(token, webhook_secret)

    @property
    def username(self) -> str:
        """The bot's @username without the @ (known once started)."""
        if not self._username:
            raise RuntimeError("the Telegram adapter has not started")
        return self._username

    def _secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._token, self._webhook_secret) if s)

    def _build(self) -> tuple[PtbApp, list[AiohttpRequest]]:
        base = self.api_base.rstrip("/")
        requests = [_request(32, self.read_timeout), _request(2, self.read_timeout)]
        app = (
            ApplicationBuilder()
            .token(self._token)
            .base_url(base)
            .base_file_url(base.removesuffix("bot") + "file/bot")
            .request(requests[0])
            .get_updates_request(requests[1])
            .build()
        )
        return app, requests

    async def start(self, on_incoming: OnIncoming | None) -> None:
        """Connect (getMe); with `on_incoming`, also receive updates by polling or webhook."""
        guard_logs(*self._secrets())
        app, requests = self._build()
        try:
            async with self._mapped_errors():
                await app.initialize()
        except BaseException:
            # A failed initialize leaves PTB "not initialized", so its shutdown would skip these.
            for request in requests:
                await request.shutdown()
            raise
        self._app, self._closed = app, False
        self._username = app.bot.username
        log.info("telegram: connected as @%s", self._username)
        if on_incoming is None:
            return
        self._on_incoming = on_incoming
        app.add_handler(TypeHandler(Update, self._on_update))
        try:
            await app.start()
            if self.webhook_url:
                await self._start_webhook(app, self.webhook_url)
            else:
                assert app.updater is not None
                async with self._mapped_errors():
                    await app.updater.start_polling(
                        timeout=dtm.timedelta(seconds=self.poll_timeout),
                        allowed_updates=ALLOWED_UPDATES,
                        error_callback=self._polling_failed,
                    )
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop receiving, let sends in flight finish (bounded), then close the client."""
        async with self._stop_lock:
            app = self._app
            if app is None:
                return
            try:
                if self._webhook is not None:
                    await self._webhook.cleanup()
                    self._webhook = None
                if app.updater is not None and app.updater.running:
                    await app.updater.stop()
                if app.running:
                    await app.stop()  # waits for updates being handled (their replies go out)
            finally:
                self._closed = True
                if self._in_flight:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(_STOP_GRACE):
                            await self._idle.wait()
                self._app = None
                await app.shutdown()

    # --- receiving ----------------------------------------------------------------------

    def _polling_failed(self, exc: TelegramError) -> None:
        log.warning("telegram: polling failed: %s", redact(str(exc), *self._secrets()))

    async def _on_update(self, update: Update, context: object) -> None:
        incoming = to_incoming(update)
        if update.callback_query is not None:
            incoming = await self._button(update.callback_query, incoming)
        if incoming is None or self._on_incoming is None:
            return
        try:
            await self._on_incoming(incoming)
        except Exception:
            log.exception("telegram: handling an update failed")

    def _command_for(self, data: str) -> str | None:
        if not data.startswith(CALLBACK_PREFIX):
            return data or None
        command = self._buttons.get(data)
        if command is not None:
            self._buttons.move_to_end(data)
        return command

    async def _button(self, query: CallbackQuery, incoming: Incoming | None) -> Incoming | None:
        """Answer every press (the client shows a spinner until we do), then hand it on."""
        command = self._command_for(query.data or "")
        try:
            await query.answer(text=None if command else EXPIRED_BUTTON)
        except TelegramError as exc:
            log.info(
                "telegram: could not answer a button press: %s", redact(str(exc), *self._secrets())
            )
        if command is None or incoming is None:
            return None
        return dataclasses.replace(incoming, text=command)

    async def _start_webhook(self, app: PtbApp, url: str) -> None:
        if not self._webhook_secret:
            log.warning("telegram: the webhook has no secret token; anyone can post updates")
        host, _, port = self.webhook_listen.rpartition(":")
        server = web.Application()
        server.router.add_post(urlsplit(url).path or "/", self._on_webhook)
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        self._webhook = runner
        await web.TCPSite(runner, host.strip("[]") or "127.0.0.1", int(port)).start()
        async with self._mapped_errors():
            await app.bot.set_webhook(
                url, secret_token=self._webhook_secret, allowed_updates=ALLOWED_UPDATES
            )

    async def _on_webhook(self, request: web.Request) -> web.Response:
        if self._webhook_secret:
            given = request.headers.get(SECRET_HEADER, "").encode()
            if not hmac.compare_digest(given, self._webhook_secret.encode()):
                return web.Response(status=403)
        app = self._app
        if app is None:
            return web.Response(status=503)
        try:
            update = Update.de_json(await request.json(), app.bot)
        except (ValueError, KeyError, TypeError, AttributeError):
            return web.Response(status=400)
        await app.update_queue.put(update)
        return web.Response()

    # --- sending ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _mapped_errors(self) -> AsyncIterator[None]:
        try:
            yield
        except TelegramError as exc:
            # `from None`: PTB's own message may quote the API URL, token included.
            raise to_chat_error(exc, *self._secrets()) from None

    @contextlib.asynccontextmanager
    async def _sending(self) -> AsyncIterator[ExtBot[Any]]:
        if self._app is None or self._closed:
            raise Transient("the Telegram adapter is not running")
        self._in_flight += 1
        self._idle.clear()
        try:
            async with self._mapped_errors():
                yield self._app.bot
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    def _remember_buttons(self, post: Post) -> None:
        for row in post.buttons:
            for button in row:
                if button.command is None:
                    continue
                data = callback_data_for(button.command)
                if data != button.command:
                    self._buttons[data] = button.command
                    self._buttons.move_to_end(data)
        while len(self._buttons) > _MAX_BUTTON_TOKENS:
            self._buttons.popitem(last=False)

    async def send(
        self, chat: ChatRef, post: Post, *, key: str, reply_to: str | None = None
    ) -> SentRef:
        """Send `post` (one message, a photo, or a photo then a message); the last id is kept."""
        self._remember_buttons(post)
        async with self._sending() as bot:
            try:
                message = await self._send_all(bot, chat.id, post, reply_to)
            except ChatMigrated as exc:
                log.info("telegram: a group became a supergroup; sending to its new id")
                chat = dataclasses.replace(chat, id=str(exc.new_chat_id))
                message = await self._send_all(bot, chat.id, post, reply_to)
            if post.pin:
                await self._pin(bot, chat.id, message.message_id)
        return SentRef(chat, str(message.message_id))

    async def _pin(self, bot: ExtBot[Any], chat_id: str, message_id: int) -> None:
        """Pin where the bot may; the post is out either way, so a refusal is only logged."""
        try:
            await bot.pin_chat_message(chat_id, message_id, disable_notification=True)
        except TelegramError as exc:
            log.warning("telegram: could not pin a post: %s", type(exc).__name__)

    async def _send_all(
        self, bot: ExtBot[Any], chat_id: str, post: Post, reply_to: str | None
    ) -> Message:
        sent: Message | None = None
        for payload in render(post, self.limits):
            if sent is not None:
                sent = await self._follow_up(bot, chat_id, payload)
                continue
            try:
                sent = await self._send_one(bot, chat_id, payload, reply_to)
            except BadRequest as exc:
                if payload.method != SEND_PHOTO or not _is_bad_image(exc):
                    raise
                log.info("telegram: the post's image was refused; sending it as text")
                text_only = dataclasses.replace(post, image_url=None, image_png=None)
                return await self._send_all(bot, chat_id, text_only, reply_to)
        assert sent is not None
        return sent

    async def _follow_up(self, bot: ExtBot[Any], chat_id: str, payload: Payload) -> Message:
        """The text after a photo: the photo is out, so a failure here must not repeat it."""
        try:
            try:
                return await self._send_one(bot, chat_id, payload, None)
            except RetryAfter as exc:
                # Two messages in a row may trip the per-chat limit; wait once, briefly.
                wait = seconds(exc.retry_after)
                if wait > _FOLLOW_UP_WAIT:
                    raise
                await asyncio.sleep(wait)
                return await self._send_one(bot, chat_id, payload, None)
        except TelegramError as exc:
            error = to_chat_error(exc, *self._secrets())
            raise MaybeDelivered(f"only the photo of the post was sent: {error}") from None

    async def _send_one(
        self, bot: ExtBot[Any], chat_id: str, payload: Payload, reply_to: str | None
    ) -> Message:
        reply = None
        if reply_to is not None and reply_to.isdigit():
            reply = ReplyParameters(int(reply_to), allow_sending_without_reply=True)
        markup = _markup(payload.keyboard)
        if payload.method == SEND_PHOTO:
            assert payload.photo is not None
            return await bot.send_photo(
                chat_id,
                payload.photo,
                caption=payload.html or None,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                reply_parameters=reply,
            )
        return await bot.send_message(
            chat_id,
            payload.html,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            reply_parameters=reply,
            link_preview_options=LinkPreviewOptions(is_disabled=not payload.link_preview),
        )

    async def edit(self, sent: SentRef, post: Post) -> None:
        """Replace a sent post's text (or its caption, for a photo)."""
        self._remember_buttons(post)
        payloads = render(post, self.limits)
        last, where = payloads[-1], (sent.chat.id, int(sent.message_id))
        markup, html = _markup(last.keyboard), ParseMode.HTML
        async with self._sending() as bot:
            if len(payloads) > 1 or last.method != SEND_PHOTO:
                preview = LinkPreviewOptions(is_disabled=not last.link_preview)
                try:
                    await _unless_unchanged(
                        bot.edit_message_text(
                            last.html,
                            *where,
                            parse_mode=html,
                            reply_markup=markup,
                            link_preview_options=preview,
                        )
                    )
                    return
                except BadRequest as exc:
                    if "no text in the message" not in str(exc).lower():
                        raise
            caption = last.html if len(payloads) == 1 else render_caption(post, self.limits)
            await _unless_unchanged(
                bot.edit_message_caption(
                    *where, caption=caption, parse_mode=html, reply_markup=markup
                )
            )

    async def publish_commands(
        self, public: list[tuple[str, str]], admin: list[tuple[str, str]], admin_user_ids: list[int]
    ) -> None:
        """Publish the command menu: public commands for everyone, all commands for admins."""
        everyone = [BotCommand(name, summary[:256]) for name, summary in public]
        admins = everyone + [BotCommand(name, summary[:256]) for name, summary in admin]
        async with self._sending() as bot:
            await bot.set_my_commands(everyone, scope=BotCommandScopeDefault())
            for user_id in admin_user_ids:
                try:
                    await bot.set_my_commands(admins, scope=BotCommandScopeChat(user_id))
                except TelegramError as exc:
                    # Usually an admin who has not opened a chat with the bot yet.
                    reason = redact(str(exc), *self._secrets())
                    log.warning("telegram: no admin command menu for one admin: %s", reason)


async def _unless_unchanged(call: Awaitable[T]) -> None:
    """An edit to the same content is a success (Telegram answers 400 "not modified")."""
    try:
        await call
    except BadRequest as exc:
        if "message is not modified" not in str(exc).lower():
            raise


def _is_bad_image(exc: BadRequest) -> bool:
    text = str(exc).lower()
    return any(phrase in text for phrase in _BAD_IMAGE)
