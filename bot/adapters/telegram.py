"""The Telegram adapter: python-telegram-bot's Application run inside the bot's own lifetime.

The I/O shell. PTB does the Bot API calls and update parsing; rendering
(`telegram_render`) and the update/error mapping (`telegram_map`) are pure. PTB's
HTTP goes through aiohttp (`telegram_transport`). Our outbox paces every send,
so no PTB rate limiter is installed and nothing is retried automatically.
Updates arrive by long polling, or by webhook when `webhook_url` is set
(`telegram_webhook`), and are handed on by `telegram_updates`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dtm
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from telegram import (
    BotCommandScopeChat,
    BotCommandScopeDefault,
    Update,
)
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError
from telegram.ext import Application, ApplicationBuilder, ExtBot, TypeHandler

from bot.adapters.telegram_buttons import AlertText, ChannelPresses
from bot.adapters.telegram_calls import bot_command, edit_message, pin, send_payload
from bot.adapters.telegram_edit import (
    EditCall,
    PhotoProgress,
    SentForm,
    edit_calls,
    form_after,
)
from bot.adapters.telegram_fast import FanoutSender
from bot.adapters.telegram_links import deep_link_url
from bot.adapters.telegram_map import (
    is_bad_image,
    to_chat_error,
)
from bot.adapters.telegram_render import (
    SEND_PHOTO,
    TELEGRAM_LIMITS,
    ButtonTokens,
    render,
)
from bot.adapters.telegram_transport import (
    AiohttpRequest,
    guard_logs,
    new_request,
    prefer_timedelta_periods,
)
from bot.adapters.telegram_updates import EXPIRED_BUTTON, UpdateHandler
from bot.adapters.telegram_webhook import WebhookServer
from bot.chat import (
    OUTBOX_KEY_PREFIX,
    CallGate,
    ChatMoved,
    ChatRef,
    CommandMenu,
    OnIncoming,
    PlatformLimits,
    Post,
    SentRef,
    StateStore,
    Transient,
    pacer_for,
)

__all__ = [
    "ALLOWED_UPDATES",
    "EXPIRED_BUTTON",
    "TELEGRAM_LIMITS",
    "AiohttpRequest",
    "TelegramAdapter",
]

log = logging.getLogger(__name__)
PtbApp = Application[Any, Any, Any, Any, Any, Any]

ALLOWED_UPDATES = ("message", "channel_post", "callback_query", "my_chat_member")
_STOP_GRACE = 20.0  # a send in flight gets this long to finish before the client closes


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
        pacing: CallGate | None = None,
        open_bot_alert: AlertText | None = None,
        state: StateStore | None = None,
        poll_in_role: bool = False,
        paid_broadcast: bool = False,
    ) -> None:
        self.limits = limits or TELEGRAM_LIMITS
        # Outbox sends (fan-outs) carry allow_paid_broadcast; replies never do.
        self.paid_broadcast = paid_broadcast
        self._fanout: FanoutSender | None = None
        self.pacing = pacing or CallGate(pacer_for(self.limits))
        self.api_base = api_base
        self.webhook_url = webhook_url
        self.webhook_listen = webhook_listen
        self.poll_timeout = poll_timeout
        self.read_timeout = read_timeout
        # Several instances: only the telegram role's holder long-polls (`receive`).
        self._poll_in_role = poll_in_role and not webhook_url
        self._token = token
        self._webhook_secret = webhook_secret
        self._app: PtbApp | None = None
        self._webhook: WebhookServer | None = None
        self._username = ""
        self._closed = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._stop_lock = asyncio.Lock()
        self._buttons = ButtonTokens()
        self._presses = ChannelPresses(open_bot_alert)
        self._updates = UpdateHandler(self._buttons, self._presses, self._secrets)
        self._progress = PhotoProgress(state)  # photos out whose text is not yet
        guard_logs(token, webhook_secret)

    @property
    def username(self) -> str:
        """The bot's @username without the @ ("" until started)."""
        return self._username

    def deep_link(self, payload: str) -> str | None:
        """`https://t.me/<bot>?start=<payload>` (None until started: the name comes from getMe)."""
        return deep_link_url(self._username, payload) if self._username else None

    def _secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._token, self._webhook_secret) if s)

    def _build(self) -> tuple[PtbApp, list[AiohttpRequest]]:
        base = self.api_base.rstrip("/")
        requests = [new_request(32, self.read_timeout), new_request(2, self.read_timeout)]
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
        guard_logs(*self._secrets())  # loggers PTB created since the adapter was made
        prefer_timedelta_periods()
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
        self._fanout = self._fanout_sender(requests[0])
        self._username = app.bot.username
        log.info("telegram: connected as @%s", self._username)
        if on_incoming is None:
            return
        self._updates.on_incoming = on_incoming
        app.add_handler(TypeHandler(Update, self._updates.on_update))
        try:
            await app.start()
            if self.webhook_url:
                await self._start_webhook(app.bot, self.webhook_url)
            elif not self._poll_in_role:
                await self._start_polling(app)
        except BaseException:
            await self.stop()
            raise

    @property
    def receives_in_role(self) -> bool:
        """True when long polling waits for the telegram role (`receive`)."""
        return self._poll_in_role

    async def receive(self, stop: asyncio.Event) -> None:
        """Long-poll until `stop`: the job of the telegram role's holder, so that one
        instance at a time calls getUpdates (a second one would get 409 Conflict)."""
        app = self._app
        if app is None or self._updates.on_incoming is None or not self._poll_in_role:
            raise RuntimeError("receive() needs an adapter started with poll_in_role")
        await self._start_polling(app)
        try:
            await stop.wait()
        finally:
            # Stopping confirms the updates handled so far, so the next holder starts after them.
            if app.updater is not None and app.updater.running:
                await app.updater.stop()

    async def _start_polling(self, app: PtbApp) -> None:
        assert app.updater is not None
        async with self._mapped_errors():
            await app.updater.start_polling(
                timeout=dtm.timedelta(seconds=self.poll_timeout),
                allowed_updates=ALLOWED_UPDATES,
                error_callback=self._updates.polling_failed,
            )

    async def stop(self) -> None:
        """Stop receiving, let sends in flight finish (bounded), then close the client."""
        async with self._stop_lock:
            app = self._app
            if app is None:
                return
            try:
                webhook, self._webhook = self._webhook, None
                if webhook is not None:
                    await webhook.stop()
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

    async def _start_webhook(self, bot: ExtBot[Any], url: str) -> None:
        self._webhook = webhook = WebhookServer(
            url=url, listen=self.webhook_listen, secret=self._webhook_secret, sink=self._queue
        )
        await webhook.start()
        async with self._mapped_errors():
            await bot.set_webhook(
                url, secret_token=self._webhook_secret, allowed_updates=ALLOWED_UPDATES
            )

    async def _queue(self, data: dict[str, Any]) -> int:
        """A webhook update into PTB's queue; the answer is the HTTP status for Telegram."""
        app = self._app
        if app is None:
            return 503
        try:
            update = Update.de_json(data, app.bot)
        except (ValueError, KeyError, TypeError, AttributeError):
            return 400
        await app.update_queue.put(update)
        return 200

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

    def _call(self, chat: ChatRef) -> contextlib.AbstractAsyncContextManager[None]:
        """One Bot API call's turn at the platform's pacer."""
        return self.pacing.call(chat.id, chat.kind.value)

    def _fanout_sender(self, request: AiohttpRequest) -> FanoutSender:
        url = f"{self.api_base.rstrip('/')}{self._token}/"
        return FanoutSender(
            lambda method, body: request.post_json(url + method, body),
            self.limits,
            paid_broadcast=self.paid_broadcast,
        )

    async def send(
        self, chat: ChatRef, post: Post, *, key: str, reply_to: str | None = None
    ) -> SentRef:
        """Send `post` (one message, a photo, or a photo then a message); the last id is kept,
        and the form (`SentForm`) tells a later edit what was sent.

        An outbox row's send (a fan-out: its key starts with OUTBOX_KEY_PREFIX) that is one
        plain call goes the fan-out path (telegram_fast); the rest goes through PTB.
        """
        self._buttons.remember(post)
        fanout = self._fanout if key.startswith(OUTBOX_KEY_PREFIX) and reply_to is None else None
        paid = fanout is not None and self.paid_broadcast  # fan-outs only, never replies
        async with self._sending() as bot:
            try:
                if fanout is not None:
                    fast = await self._send_fast(fanout, chat, post)
                    if isinstance(fast, SentRef):
                        return fast
                    chat = fast  # refused, nothing went out: the ordinary path takes it
                sent = await self._send_all(bot, chat, post, (key, reply_to), paid)
            except Forbidden:
                # Someone who never started the bot pressed a button under a channel post.
                if await self._presses.refused(chat.id, self._username):
                    log.info("telegram: a button presser has not started the bot; told them")
                raise
            except ChatMigrated as exc:
                log.info("telegram: a group became a supergroup; sending to its new id")
                chat = dataclasses.replace(chat, id=str(exc.new_chat_id))
                sent = await self._send_all(bot, chat, post, (key, reply_to), paid)
            if post.pin:
                async with self._call(chat):
                    await pin(bot, chat.id, int(sent.message_id))
        return sent

    async def _send_fast(
        self, fanout: FanoutSender, chat: ChatRef, post: Post
    ) -> SentRef | ChatRef:
        """The fan-out path's one call; or the chat for the ordinary path when the post takes
        more than one call, the group moved (its new id), or its image was refused."""
        prepared = fanout.prepare(post)
        if prepared is None:
            return chat
        try:
            async with self._call(chat):
                message_id = await fanout.send(chat.id, prepared)
        except ChatMigrated as exc:
            log.info("telegram: a group became a supergroup; sending to its new id")
            return dataclasses.replace(chat, id=str(exc.new_chat_id))
        except BadRequest as exc:
            if not is_bad_image(exc):
                raise
            return chat
        return SentRef(chat, message_id, prepared.form)

    async def _send_all(
        self,
        bot: ExtBot[Any],
        chat: ChatRef,
        post: Post,
        ids: tuple[str, str | None],
        paid: bool = False,
    ) -> SentRef:
        """One call, or a photo then its text: each with its own pacing token, and the
        photo's progress kept, so that a retry of this delivery sends only the text."""
        (key, reply_to), payloads = ids, render(post, self.limits)
        photo_id = await self._progress.photo_of(key, chat.id) if len(payloads) > 1 else None
        if photo_id is None:
            try:
                async with self._call(chat):
                    first = await send_payload(bot, chat.id, payloads[0], reply_to, paid=paid)
            except BadRequest as exc:
                if payloads[0].method != SEND_PHOTO or not is_bad_image(exc):
                    raise
                log.info("telegram: the post's image was refused; sending it as text")
                text_only = dataclasses.replace(post, image_url=None, image_png=None)
                return await self._send_all(bot, chat, text_only, ids, paid)
            if len(payloads) == 1:
                return SentRef(chat, str(first.message_id), SentForm.of(payloads).encode())
            photo_id = str(first.message_id)
            await self._progress.photo_sent(key, chat.id, photo_id)
        async with self._call(chat):
            last = await send_payload(bot, chat.id, payloads[-1], None, paid=paid)
        await self._progress.done(chat.id)
        return SentRef(chat, str(last.message_id), SentForm.of(payloads, photo_id).encode())

    async def edit(self, sent: SentRef, post: Post, *, key: str) -> SentRef:
        """Edit a sent post by what was sent (its form); follows a group that moved.

        Raises ChatMoved when the group moved and the message stayed behind in the old one.
        """
        self._buttons.remember(post)
        form = SentForm.decode(sent.form)
        async with self._sending() as bot:
            try:
                await self._edit_all(
                    bot, sent.chat, edit_calls(form, sent.message_id, post, self.limits)
                )
            except ChatMigrated as exc:
                moved = dataclasses.replace(sent.chat, id=str(exc.new_chat_id))
                try:
                    await self._edit_all(
                        bot, moved, edit_calls(form, sent.message_id, post, self.limits)
                    )
                except BadRequest as again:
                    if "not found" not in str(again).lower():
                        raise
                    raise ChatMoved(
                        moved.id, "the group moved; its old messages stay behind"
                    ) from None
                sent = dataclasses.replace(sent, chat=moved)
        return dataclasses.replace(sent, form=form_after(form, post).encode())

    async def _edit_all(self, bot: ExtBot[Any], chat: ChatRef, calls: list[EditCall]) -> None:
        for call in calls:
            async with self._call(chat):
                await edit_message(bot, chat.id, call)

    async def publish_commands(
        self, menus: Sequence[CommandMenu], admin_ids: Sequence[str]
    ) -> None:
        """Publish each language's menu (`language_code`, or none for the default one):
        public commands for everyone, all commands for each admin."""
        unreachable: set[str] = set()
        async with self._sending() as bot:
            for menu in menus:
                everyone = [bot_command(name, summary) for name, summary in menu.public]
                admins = everyone + [bot_command(name, summary) for name, summary in menu.admin]
                language = menu.language or None
                await bot.set_my_commands(
                    everyone, scope=BotCommandScopeDefault(), language_code=language
                )
                for user_id in (a for a in admin_ids if a not in unreachable):
                    try:
                        await bot.set_my_commands(
                            admins, scope=BotCommandScopeChat(int(user_id)), language_code=language
                        )
                    except TelegramError as exc:
                        # Usually an admin who has not opened a chat with the bot yet.
                        unreachable.add(user_id)
                        reason = self._updates.redact(exc)
                        log.warning("telegram: no admin command menu for one admin: %s", reason)
