"""A Telegram Bot API stand-in: an aiohttp server the real python-telegram-bot talks to.

Point PTB at it with `base_url=f"{api.url}/bot"` (the adapter's `api_base`).
Routes are `/bot{token}/{method}`; bodies may be JSON, form-encoded (what PTB
sends, with JSON-encoded objects) or multipart. It keeps what a user would
see: the chats, each chat's messages (visible text and the HTML it came from),
the update queue, answered callback queries and published command menus.

It rejects what Telegram rejects: HTML outside Telegram's allowlist or with
unbalanced tags (400 "can't parse entities"), text over 4096 UTF-16 units
(400 "message is too long"), captions over 1024, unknown chats, blocked users
(403) and sends to a group that became a supergroup (400 with
`migrate_to_chat_id`). Tests drive it with `inject_text`, `press_button`,
`block_bot`, `migrate_group`, `fail_next` (429/403/400/500/hang) and `strict`
(rolling-window flood limits answered with 429 + retry_after).

    async with telegram_api() as api:
        api.add_chat(-1001, "channel", title="News")
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import math
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

TEXT_MAX, CAPTION_MAX = 4096, 1024
SEND_METHODS = frozenset({"sendMessage", "sendPhoto"})
FAULTABLE = SEND_METHODS | {"editMessageText", "editMessageCaption"}
# Tag -> attributes it may carry (Telegram's HTML parse mode).
ALLOWED_TAGS: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        ("b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "pre", "tg-spoiler"),
        frozenset(),
    ),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "blockquote": frozenset({"expandable"}),
    "span": frozenset({"class"}),
}
_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*>"
)
_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);")


class EntityError(ValueError):
    """The text is not valid Telegram HTML."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _open_tag(name: str, attrs: str, stack: list[str], at: int) -> None:
    if name not in ALLOWED_TAGS:
        raise EntityError(f'Unsupported start tag "{name}" at byte offset {at}')
    if stack and stack[-1] in ("code", "pre") and not (stack[-1] == "pre" and name == "code"):
        raise EntityError(f'Entities can\'t be nested inside "{stack[-1]}"')
    if name == "blockquote" and "blockquote" in stack:
        raise EntityError("Blockquote entities can't be nested")
    found = {m[1].lower(): html.unescape(m[2] or m[3] or m[4] or "") for m in _ATTR.finditer(attrs)}
    if set(found) - ALLOWED_TAGS[name]:
        raise EntityError(f'Unsupported attribute in tag "{name}" at byte offset {at}')
    if name == "a" and not found.get("href"):
        raise EntityError(f"Can't find href attribute at byte offset {at}")
    if name == "span" and found.get("class") != "tg-spoiler":
        raise EntityError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
    stack.append(name)


def parse_html(text: str) -> str:
    """The visible text of Telegram HTML; raises EntityError where Telegram would refuse it."""
    visible: list[str] = []
    stack: list[str] = []
    pos = 0
    while (at := _next_markup(text, pos)) >= 0:
        visible.append(text[pos:at])
        if text[at] == "&":
            entity = _ENTITY.match(text, at)
            if entity is None:
                raise EntityError(f"Unsupported HTML entity at byte offset {at}")
            visible.append(html.unescape(entity[0]))
            pos = entity.end()
            continue
        tag = _TAG.match(text, at)
        if tag is None:
            raise EntityError(f"Unsupported start tag at byte offset {at}")
        closing, name = tag[1] == "/", tag[2].lower()
        if not closing:
            _open_tag(name, tag[3], stack, at)
        elif not stack or stack[-1] != name:
            raise EntityError(f'Unexpected end tag "{name}" at byte offset {at}')
        else:
            stack.pop()
        pos = tag.end()
    if stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(visible) + text[pos:]


def _next_markup(text: str, pos: int) -> int:
    found = [i for i in (text.find("<", pos), text.find("&", pos)) if i >= 0]
    return min(found) if found else -1


class ApiError(Exception):
    def __init__(self, code: int, description: str, **parameters: int) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class Stats:
    sent: int = 0  # sends Telegram accepted
    rejected_429: int = 0  # 429 answers (flood limits and injected)
    calls: Counter[str] = field(default_factory=Counter)


@dataclass
class StrictLimits:
    """Rolling windows: overall per second, per chat per second, per group/channel per minute."""

    overall_per_second: int = 30
    per_chat_per_second: int = 1
    per_group_per_minute: int = 20


@dataclass
class ShownMessage:
    """A message as a user in the chat sees it."""

    chat_id: int
    message_id: int
    text: str  # the visible text (or caption), entities parsed
    html: str  # what the bot sent
    from_bot: bool = True
    photo: str | None = None
    keyboard: list[list[dict[str, Any]]] = field(default_factory=list)
    link_preview: bool = True
    reply_to: int | None = None
    json: dict[str, Any] = field(default_factory=dict)


class TelegramApi:
    """The server's state and the test-facing controls."""

    def __init__(self, token: str | None = None) -> None:
        self.bot_id = 7_000_000_001
        self.token = token or f"{self.bot_id}:AA{secrets.token_urlsafe(30)}"
        self.bot_user = {"id": self.bot_id, "is_bot": True, "first_name": "Outreach"}
        self.bot_user |= {"username": "outreach_test_bot", "can_join_groups": True}
        self.url = ""
        self.chats: dict[int, dict[str, Any]] = {}
        self.log: dict[int, list[ShownMessage]] = {}
        self.updates: list[dict[str, Any]] = []
        self.answers: dict[str, dict[str, Any]] = {}  # callback query id -> answer
        self.commands: dict[str, list[dict[str, Any]]] = {}  # scope (JSON) -> commands
        self.webhook: dict[str, Any] | None = None
        self.blocked: set[int] = set()
        self.pinned: dict[int, list[int]] = {}  # chat id -> pinned message ids
        self.migrated: dict[int, int] = {}
        self.stats = Stats()
        self.limits: StrictLimits | None = None
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._faults: deque[tuple[str, int]] = deque()
        self._windows: dict[str, deque[float]] = {}
        self._ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._wakeup = asyncio.Event()
        self._closing = asyncio.Event()
        self._changed = asyncio.Event()  # set on every request, so wait_until can re-check
        self._pusher: asyncio.Task[None] | None = None

    # --- test controls -------------------------------------------------------------------

    def add_chat(self, chat_id: int, kind: str = "private", title: str = "") -> dict[str, Any]:
        """Make a chat known (a private chat exists once its user has messaged the bot)."""
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = title or f"User {chat_id}"
        else:
            chat["title"] = title or f"Chat {chat_id}"
        return self.chats.setdefault(chat_id, chat)

    def inject_text(
        self, user_id: int, text: str, chat_type: str = "private", chat_id: int | None = None
    ) -> int:
        """A user types `text`; returns the message id."""
        chat = self.add_chat(user_id if chat_id is None else chat_id, chat_type)
        message = self._message(chat, text=text, sender=self._user(user_id))
        if text.startswith("/"):
            length = len(text.split(maxsplit=1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        self._show(ShownMessage(chat["id"], message["message_id"], text, text, from_bot=False))
        key = "channel_post" if chat_type == "channel" else "message"
        self._push({key: message})
        return int(message["message_id"])

    def press_button(
        self, user_id: int, message_id: int, callback_data: str, chat_id: int | None = None
    ) -> str:
        """A user presses an inline button under a bot message; returns the query id."""
        shown = self.find(user_id if chat_id is None else chat_id, message_id)
        query_id = str(next(self._ids))
        query = {"id": query_id, "from": self._user(user_id), "chat_instance": "1"}
        self._push({"callback_query": query | {"message": shown.json, "data": callback_data}})
        return query_id

    def block_bot(self, user_id: int) -> None:
        """The user blocks the bot: a my_chat_member update, then 403 on every send."""
        self.blocked.add(user_id)
        chat = self.add_chat(user_id)
        old = {"user": self.bot_user, "status": "member"}
        new = {"user": self.bot_user, "status": "kicked", "until_date": 0}
        change = {"chat": chat, "from": self._user(user_id), "date": int(time.time())}
        self._push({"my_chat_member": change | {"old_chat_member": old, "new_chat_member": new}})

    def migrate_group(self, old_id: int, new_id: int, user_id: int = 1) -> None:
        """A group becomes a supergroup: a service message, then sends to `old_id` fail."""
        old = self.add_chat(old_id, "group")
        self.add_chat(new_id, "supergroup", title=old["title"])
        self.migrated[old_id] = new_id
        message = self._message(old, sender=self._user(user_id))
        self._push({"message": message | {"migrate_to_chat_id": new_id}})

    def fail_next(self, n: int, kind: str, retry_after: int = 1) -> None:
        """Fail the next `n` sends/edits: "429", "403", "400", "500" or "hang"."""
        self._faults.extend([(kind, retry_after)] * n)

    def strict(self, **limits: int) -> StrictLimits:
        """Enforce rolling-window flood limits from now on (see StrictLimits)."""
        self.limits = StrictLimits(**limits)
        return self.limits

    def messages(self, chat_id: int) -> list[ShownMessage]:
        return list(self.log.get(chat_id, []))

    def bot_messages(self, chat_id: int) -> list[ShownMessage]:
        return [m for m in self.log.get(chat_id, []) if m.from_bot]

    def menu(self, chat_id: int | None = None) -> list[str]:
        """The command names published for everyone, or for one chat's scope."""
        scope = {"type": "default"} if chat_id is None else {"type": "chat", "chat_id": chat_id}
        return [c["command"] for c in self.commands.get(json.dumps(scope, sort_keys=True), [])]

    def find(self, chat_id: int, message_id: int) -> ShownMessage:
        for shown in self.log.get(chat_id, []):
            if shown.message_id == message_id:
                return shown
        raise ApiError(400, "Bad Request: message not found")

    async def wait_until(self, condition: Callable[[], bool], limit: float = 5.0) -> None:
        """Wait (at most `limit` seconds) until `condition()` over the server's state holds."""
        async with asyncio.timeout(limit):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    # --- state helpers -------------------------------------------------------------------

    def _user(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}

    def _message(self, chat: dict[str, Any], **fields: Any) -> dict[str, Any]:
        counter = self._message_ids.setdefault(chat["id"], itertools.count(1))
        message = {"message_id": next(counter), "date": int(time.time()), "chat": chat}
        if sender := fields.pop("sender", None):
            message["from"] = sender
        return message | fields

    def _show(self, shown: ShownMessage) -> None:
        self.log.setdefault(shown.chat_id, []).append(shown)

    def _push(self, update: dict[str, Any]) -> None:
        self.updates.append({"update_id": next(self._ids)} | update)
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self.chats.values():
                if chat.get("username") == chat_id[1:]:
                    return chat
            raise ApiError(400, "Bad Request: chat not found")
        cid = int(chat_id)
        if cid in self.migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=self.migrated[cid],
            )
        if cid in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if cid not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")
        return self.chats[cid]

    def _check_rate(self, chat: dict[str, Any]) -> None:
        if self.limits is None:
            return
        now = time.monotonic()
        group = chat["type"] != "private"
        windows = [
            ("all", 1.0, self.limits.overall_per_second),
            (f"chat:{chat['id']}", 1.0, self.limits.per_chat_per_second),
        ]
        if group:
            windows.append((f"group:{chat['id']}", 60.0, self.limits.per_group_per_minute))
        for key, span, most in windows:
            times = self._windows.setdefault(key, deque())
            while times and now - times[0] >= span:
                times.popleft()
            if len(times) >= most:
                wait = max(1, math.ceil(times[0] + span - now))
                raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        for key, _, _ in windows:
            self._windows[key].append(now)

    async def _fault(self, method: str) -> None:
        if method not in FAULTABLE or not self._faults:
            return
        kind, retry_after = self._faults.popleft()
        if kind == "hang":
            await self._closing.wait()
            raise ApiError(500, "Internal Server Error: shutting down")
        errors = {
            "429": (429, f"Too Many Requests: retry after {retry_after}"),
            "403": (403, "Forbidden: bot was blocked by the user"),
            "400": (400, "Bad Request: injected failure"),
            "500": (500, "Internal Server Error"),
        }
        code, description = errors[kind]
        parameters = {"retry_after": retry_after} if kind == "429" else {}
        raise ApiError(code, description, **parameters)

    # --- HTTP ------------------------------------------------------------------------------

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
            body = {"ok": False, "error_code": exc.code, "description": exc.description}
            return web.json_response(body | {"parameters": exc.parameters}, status=exc.code)
        finally:
            self._changed.set()
        return web.json_response({"ok": True, "result": result})

    async def _m_getMe(self, p: dict[str, Any]) -> Any:
        return self.bot_user

    async def _m_getUpdates(self, p: dict[str, Any]) -> Any:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(p.get("offset") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + float(p.get("timeout") or 0)
        while not self.updates and not self._closing.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wakeup = self._wakeup
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await _first(wakeup.wait(), self._closing.wait())
        return self.updates[: int(p.get("limit") or 100)]

    async def _m_deleteWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = None
        if p.get("drop_pending_updates") in (True, "true", "True"):
            self.updates.clear()
        return True

    async def _m_setWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = {"url": p["url"], "secret_token": p.get("secret_token")}
        if self._pusher is None:
            self._pusher = asyncio.create_task(self._push_to_webhook())
        return True

    async def _m_getChat(self, p: dict[str, Any]) -> Any:
        return self._chat(p["chat_id"]) | {"accent_color_id": 0, "max_reaction_count": 11}

    async def _m_sendMessage(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p["chat_id"])
        text = _visible(p.get("text", ""), p.get("parse_mode"))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > TEXT_MAX:
            raise ApiError(400, "Bad Request: message is too long")
        return self._accept(chat, p, ShownMessage(0, 0, text, p["text"], json={"text": text}))

    async def _m_sendPhoto(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p["chat_id"])
        upload = p.get("photo")
        if isinstance(upload, bytes):
            if not upload.startswith(b"\x89PNG"):
                raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
            photo = f"upload:{len(upload)} bytes"
        else:
            photo = str(upload or "")
            if not photo.startswith("http") or "broken" in photo:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        caption = _visible(p.get("caption", ""), p.get("parse_mode"))
        if utf16_len(caption) > CAPTION_MAX:
            raise ApiError(400, "Bad Request: message caption is too long")
        sizes = [{"file_id": f"p{next(self._ids)}", "file_unique_id": "u", "width": 1, "height": 1}]
        fields: dict[str, Any] = {"photo": sizes} | ({"caption": caption} if caption else {})
        shown = ShownMessage(0, 0, caption, p.get("caption", ""), photo=photo, json=fields)
        return self._accept(chat, p, shown)

    def _accept(self, chat: dict[str, Any], p: dict[str, Any], shown: ShownMessage) -> Any:
        """Record an accepted send (what the user now sees) and answer with its Message."""
        reply = p.get("reply_parameters") or {}
        if "message_id" in reply and not reply.get("allow_sending_without_reply"):
            self.find(chat["id"], int(reply["message_id"]))
        self._check_rate(chat)
        markup = p.get("reply_markup") or {}
        message = self._message(chat, sender=self.bot_user, **shown.json)
        shown.json = message | ({"reply_markup": markup} if markup else {})
        shown.chat_id, shown.message_id = chat["id"], message["message_id"]
        shown.keyboard = markup.get("inline_keyboard", [])
        shown.link_preview = not (p.get("link_preview_options") or {}).get("is_disabled", False)
        shown.reply_to = reply.get("message_id")
        self._show(shown)
        self.stats.sent += 1
        return shown.json

    async def _m_editMessageText(self, p: dict[str, Any]) -> Any:
        shown = self.find(int(self._chat(p["chat_id"])["id"]), int(p["message_id"]))
        if shown.photo is not None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        return self._edit(shown, p, "text", TEXT_MAX, "message is too long")

    async def _m_editMessageCaption(self, p: dict[str, Any]) -> Any:
        shown = self.find(int(self._chat(p["chat_id"])["id"]), int(p["message_id"]))
        return self._edit(shown, p, "caption", CAPTION_MAX, "message caption is too long")

    def _edit(
        self, shown: ShownMessage, p: dict[str, Any], key: str, most: int, too_long: str
    ) -> Any:
        text = _visible(p.get(key, ""), p.get("parse_mode"))
        if utf16_len(text) > most:
            raise ApiError(400, f"Bad Request: {too_long}")
        if text == shown.text and p.get(key, "") == shown.html:
            raise ApiError(400, "Bad Request: message is not modified")
        shown.text, shown.html = text, p.get(key, "")
        shown.json = shown.json | {key: text}
        return shown.json

    async def _m_answerCallbackQuery(self, p: dict[str, Any]) -> Any:
        query_id = str(p["callback_query_id"])
        if query_id in self.answers:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired")
        self.answers[query_id] = p
        return True

    async def _m_pinChatMessage(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p["chat_id"])
        self.pinned.setdefault(chat["id"], []).append(int(p["message_id"]))
        return True

    async def _m_setMyCommands(self, p: dict[str, Any]) -> Any:
        scope_object = p.get("scope") or {"type": "default"}
        if "chat_id" in scope_object:
            self._chat(scope_object["chat_id"])
        scope = json.dumps(scope_object, sort_keys=True)
        self.commands[scope] = list(p.get("commands") or [])
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
    if parse_mode != "HTML":
        return text
    try:
        return parse_html(text)
    except EntityError as exc:
        raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None


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
