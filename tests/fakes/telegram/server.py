"""The Bot API methods the bot calls, served over HTTP on 127.0.0.1 for the real PTB.

Routes are `/bot{token}/{method}`; bodies may be JSON, form-encoded (what PTB
sends, with JSON-encoded objects) or multipart. Every refusal uses Telegram's
own status and wording (see `rules`), so the bot's error mapping is tested
against what it will meet in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.telegram.entities import EntityError, utf16_len, visible_text
from tests.fakes.telegram.rules import (
    NOT_MODIFIED,
    RATED_METHODS,
    ApiError,
    bad_request,
    check_commands,
    check_keyboard,
    check_secret_token,
    refuse_unless_present,
)
from tests.fakes.telegram.state import ChatState, ShownMessage

TEXT_MAX, CAPTION_MAX = 4096, 1024
CONFLICT_OTHER_POLL = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
SEND_METHODS = frozenset({"sendMessage", "sendPhoto"})
FAULTABLE = SEND_METHODS | {"editMessageText", "editMessageCaption", "editMessageMedia"}
_FAULTS = {
    "429": (429, "Too Many Requests: retry after {}"),
    "403": (403, "Forbidden: bot was blocked by the user"),
    "400": (400, "Bad Request: injected failure"),
    "500": (500, "Internal Server Error"),
}


class TelegramApi(ChatState):
    """The stand-in: `ChatState` (state and test controls) plus the Bot API methods."""

    def __init__(self, token: str | None = None) -> None:
        super().__init__(token)
        self._pusher: asyncio.Task[None] | None = None
        self._poll: asyncio.Event | None = None  # set to end the pending getUpdates

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.stats.calls[method] += 1
        self._changed.set()
        handler = getattr(self, f"_m_{method}", None)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if handler is None:
                raise ApiError(404, "Not Found")
            params = await _params(request)
            self.requests.append((method, params))
            await self._fault(method)
            result = await handler(params)
        except ApiError as exc:
            self.stats.rejected_429 += exc.code == 429
            # A poll ended by another is a conflict only if its client still waits for it.
            listening = request.transport is not None and not request.transport.is_closing()
            self.stats.conflicts_409 += exc.code == 409 and listening
            body = {"ok": False, "error_code": exc.code, "description": exc.description}
            return web.json_response(body | {"parameters": exc.parameters}, status=exc.code)
        finally:
            self._changed.set()
        return web.json_response({"ok": True, "result": result})

    # --- checks shared by the methods ---------------------------------------------------

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self.chats.values():
                if chat.get("username") == chat_id[1:]:
                    return chat
            raise bad_request("chat not found")
        cid = int(chat_id)
        if cid in self.migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=self.migrated[cid],
            )
        if cid not in self.chats:
            raise bad_request("chat not found")
        return self.chats[cid]

    def _writable(self, chat_id: Any, method: str) -> dict[str, Any]:
        """The chat, if the bot may act there (`method` decides which rights are needed)."""
        chat = self._chat(chat_id)
        refuse_unless_present(chat, self.status.get(chat["id"], "member"), method)
        return chat

    def _rate(self, chat: dict[str, Any], method: str, *, paid: bool = False) -> None:
        if self._windows is not None and method in RATED_METHODS:
            self._windows.take(chat, paid=paid)

    async def _fault(self, method: str) -> None:
        if method not in FAULTABLE or not self._faults:
            return
        kind, retry_after = self._faults.popleft()
        if kind == "hang":
            await self._closing.wait()
            raise ApiError(500, "Internal Server Error: shutting down")
        code, description = _FAULTS[kind]
        parameters = {"retry_after": retry_after} if kind == "429" else {}
        raise ApiError(code, description.format(retry_after), **parameters)

    def _photo(self, upload: Any) -> str:
        if isinstance(upload, bytes):
            if not upload.startswith(b"\x89PNG"):
                raise bad_request("IMAGE_PROCESS_FAILED")
            return f"upload:{len(upload)} bytes"
        photo = str(upload or "")
        if not photo.startswith("http") or "broken" in photo:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return photo

    # --- updates and webhooks -----------------------------------------------------------

    async def _m_getMe(self, p: dict[str, Any]) -> Any:
        return self.bot_user

    async def _m_getUpdates(self, p: dict[str, Any]) -> Any:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        # Telegram serves one getUpdates per bot at a time: a new one ends the pending one.
        if self._poll is not None:
            self._poll.set()
        self._poll = terminated = asyncio.Event()
        try:
            return await self._long_poll(p, terminated)
        finally:
            if self._poll is terminated:
                self._poll = None

    async def _long_poll(self, p: dict[str, Any], terminated: asyncio.Event) -> Any:
        offset = int(p.get("offset") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + float(p.get("timeout") or 0)
        while not self.updates and not self._closing.is_set() and not terminated.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wakeup = self._wakeup
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await _first(wakeup.wait(), self._closing.wait(), terminated.wait())
        if terminated.is_set():
            raise ApiError(409, CONFLICT_OTHER_POLL)
        return self.updates[: int(p.get("limit") or 100)]

    async def _m_deleteWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = None
        if p.get("drop_pending_updates") in (True, "true", "True"):
            self.updates.clear()
        return True

    async def _m_setWebhook(self, p: dict[str, Any]) -> Any:
        secret = check_secret_token(p.get("secret_token"))
        self.webhook = {"url": p["url"], "secret_token": secret}
        if self._pusher is None:
            self._pusher = asyncio.create_task(self._push_to_webhook())
        return True

    # --- sending --------------------------------------------------------------------------

    async def _m_getChat(self, p: dict[str, Any]) -> Any:
        return self._chat(p["chat_id"]) | {"accent_color_id": 0, "max_reaction_count": 11}

    async def _m_sendMessage(self, p: dict[str, Any]) -> Any:
        chat = self._writable(p["chat_id"], "sendMessage")
        text = _visible(p.get("text", ""), p.get("parse_mode"))
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > TEXT_MAX:
            raise bad_request("message is too long")
        return self._accept(chat, p, ShownMessage(0, 0, text, p["text"], json={"text": text}))

    async def _m_sendPhoto(self, p: dict[str, Any]) -> Any:
        chat = self._writable(p["chat_id"], "sendPhoto")
        photo = self._photo(p.get("photo"))
        caption = _visible(p.get("caption", ""), p.get("parse_mode"))
        if utf16_len(caption) > CAPTION_MAX:
            raise bad_request("message caption is too long")
        sizes = [{"file_id": f"p{next(self._ids)}", "file_unique_id": "u", "width": 1, "height": 1}]
        fields: dict[str, Any] = {"photo": sizes} | ({"caption": caption} if caption else {})
        shown = ShownMessage(0, 0, caption, p.get("caption", ""), photo=photo, json=fields)
        return self._accept(chat, p, shown)

    def _accept(self, chat: dict[str, Any], p: dict[str, Any], shown: ShownMessage) -> Any:
        """Record an accepted send (what the user now sees) and answer with its Message."""
        reply = p.get("reply_parameters") or {}
        if "message_id" in reply and not reply.get("allow_sending_without_reply"):
            self.find(chat["id"], int(reply["message_id"]), "message to be replied not found")
        keyboard = check_keyboard(p.get("reply_markup"))
        paid = p.get("allow_paid_broadcast") in (True, "true", "True")
        self._rate(chat, "sendPhoto" if shown.photo is not None else "sendMessage", paid=paid)
        message = self._message(chat, sender=self.bot_user, **shown.json)
        markup = {"inline_keyboard": keyboard} if keyboard else {}
        shown.json = message | ({"reply_markup": markup} if markup else {})
        shown.chat_id, shown.message_id = chat["id"], message["message_id"]
        shown.keyboard = keyboard
        shown.link_preview = not (p.get("link_preview_options") or {}).get("is_disabled", False)
        shown.reply_to = reply.get("message_id")
        self._show(shown)
        self.stats.sent += 1
        self.stats.paid += paid
        return shown.json

    async def _m_pinChatMessage(self, p: dict[str, Any]) -> Any:
        chat = self._writable(p["chat_id"], "pinChatMessage")
        self.find(chat["id"], int(p["message_id"]), "message to pin not found")
        self._rate(chat, "pinChatMessage")
        self.pinned.setdefault(chat["id"], []).append(int(p["message_id"]))
        return True

    # --- editing --------------------------------------------------------------------------

    def _editable(self, p: dict[str, Any], method: str) -> tuple[dict[str, Any], ShownMessage]:
        chat = self._writable(p["chat_id"], method)
        shown = self.find(chat["id"], int(p["message_id"]), "message to edit not found")
        if not shown.from_bot:
            raise bad_request("message can't be edited")
        return chat, shown

    async def _m_editMessageText(self, p: dict[str, Any]) -> Any:
        where = self._editable(p, "editMessageText")
        if where[1].photo is not None:
            raise bad_request("there is no text in the message to edit")
        text = _visible(p.get("text", ""), p.get("parse_mode"))
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > TEXT_MAX:
            raise bad_request("message is too long")
        shown = self._edit(where, p, "editMessageText", "text", (text, p.get("text", "")))
        shown.link_preview = not (p.get("link_preview_options") or {}).get("is_disabled", False)
        return shown.json

    async def _m_editMessageCaption(self, p: dict[str, Any]) -> Any:
        where = self._editable(p, "editMessageCaption")
        if where[1].photo is None:
            raise bad_request("there is no caption in the message to edit")
        caption = _visible(p.get("caption", ""), p.get("parse_mode"))
        if utf16_len(caption) > CAPTION_MAX:
            raise bad_request("message caption is too long")
        pair = (caption, p.get("caption", ""))
        return self._edit(where, p, "editMessageCaption", "caption", pair).json

    async def _m_editMessageMedia(self, p: dict[str, Any]) -> Any:
        where = self._editable(p, "editMessageMedia")
        if where[1].photo is None:
            raise bad_request("there is no media in the message to edit")
        media = p.get("media")
        if not isinstance(media, dict) or media.get("type") != "photo":
            raise bad_request("the stand-in edits photos only (media.type = photo)")
        upload = str(media.get("media", ""))
        photo = self._photo(p.get(upload[9:]) if upload.startswith("attach://") else upload)
        caption = _visible(media.get("caption", ""), media.get("parse_mode"))
        if utf16_len(caption) > CAPTION_MAX:
            raise bad_request("message caption is too long")
        pair = (caption, media.get("caption", ""))
        return self._edit(where, p, "editMessageMedia", "caption", pair, photo=photo).json

    def _edit(
        self,
        where: tuple[dict[str, Any], ShownMessage],
        p: dict[str, Any],
        method: str,
        key: str,
        content: tuple[str, str],
        *,
        photo: str | None = None,
    ) -> ShownMessage:
        """Apply an edit of the `key` ("text" or "caption"): `content` is (visible, as sent).

        The keyboard is part of the message: an edit without one removes it, and an edit
        that changes nothing, keyboard included, is refused as "not modified".
        """
        chat, shown = where
        keyboard = check_keyboard(p.get("reply_markup"))
        before = (shown.text, shown.html, shown.keyboard, shown.photo)
        if (*content, keyboard, photo or shown.photo) == before:
            raise ApiError(400, NOT_MODIFIED)
        self._rate(chat, method)
        (shown.text, shown.html), shown.keyboard = content, keyboard
        shown.photo = photo or shown.photo
        shown.json = {k: v for k, v in shown.json.items() if k not in (key, "reply_markup")}
        shown.json |= {key: shown.text} if shown.text else {}
        shown.json |= {"reply_markup": {"inline_keyboard": keyboard}} if keyboard else {}
        shown.json["edit_date"] = int(time.time())
        return shown

    # --- the rest -------------------------------------------------------------------------

    async def _m_answerCallbackQuery(self, p: dict[str, Any]) -> Any:
        query_id = str(p["callback_query_id"])
        if query_id in self.answers:
            raise bad_request("query is too old and response timeout expired")
        self.answers[query_id] = p
        return True

    async def _m_setMyCommands(self, p: dict[str, Any]) -> Any:
        language_code = str(p.get("language_code") or "")
        commands = check_commands(p.get("commands"), language_code)
        scope_object = p.get("scope") or {"type": "default"}
        if "chat_id" in scope_object:
            self._chat(scope_object["chat_id"])
        self.commands[json.dumps(scope_object, sort_keys=True), language_code] = commands
        return True

    async def _m_close(self, p: dict[str, Any]) -> Any:
        return True

    _m_logOut = _m_close

    async def _push_to_webhook(self) -> None:
        """Deliver queued updates to the webhook the way Telegram does (one POST each)."""
        async with aiohttp.ClientSession() as session:
            while not self._closing.is_set():
                if self.webhook is None or not self.updates:
                    await _first(self._wakeup.wait(), self._closing.wait())
                    continue
                headers = {}
                if self.webhook.get("secret_token"):
                    headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.post(
                        self.webhook["url"], json=self.updates[0], headers=headers
                    ) as response:
                        if response.status == 200:
                            self.updates.pop(0)
                            self._changed.set()
                            continue
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        self._closing.set()
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher


def _visible(text: str, parse_mode: Any) -> str:
    try:
        return visible_text(text, parse_mode)
    except EntityError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None


async def _first(*waits: Any) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        data = await request.json()
        return dict(data) if isinstance(data, dict) else {}
    form = await request.post()
    out: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, web.FileField):
            # An uploaded file (a generated picture): Telegram would store it.
            out[key] = value.file.read()
            continue
        text = value if isinstance(value, str) else ""
        # PTB JSON-encodes objects and lists inside form fields.
        if text[:1] in ("{", "[") or text in ("true", "false"):
            with contextlib.suppress(ValueError):
                out[key] = json.loads(text)
                continue
        out[key] = text
    return out


@asynccontextmanager
async def telegram_api(token: str | None = None) -> AsyncIterator[TelegramApi]:
    """Run the stand-in on 127.0.0.1 (a free port) for the duration of the block."""
    api = TelegramApi(token)
    app = web.Application()
    app.router.add_route("POST", "/bot{token}/{method}", api.handle)
    app.router.add_route("GET", "/bot{token}/{method}", api.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        api.url = f"http://127.0.0.1:{port}"
        yield api
    finally:
        await api.close()
        await runner.cleanup()
