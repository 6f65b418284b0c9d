"""The fan-out path: outbox sends straight over the adapter's aiohttp session.

A post for many chats is rendered once, its Bot API call serialised once (all but
the chat id), and each send is one POST of those bytes with the chat id spliced
in; of the answer only `ok`, `result.message_id` and the error fields are read.
python-telegram-bot would build request objects for every call and a full
`Message` (with its chat, sender, entities and keyboard) for every answer: at a
paid broadcast's 1,000 messages a second that decides whether the bot keeps up.
Replies, edits and updates keep going through PTB.

Errors become PTB's own exception types, chosen the way PTB chooses them from an
error answer, so that the adapter maps them to neutral errors in one place.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.adapters.telegram_edit import SentForm
from bot.adapters.telegram_render import SEND_PHOTO, Payload, render
from bot.chat import PlatformLimits, Post

__all__ = ["FanoutSender", "Prepared", "error_from_answer"]

# POST `body` (JSON) to a Bot API method; returns the HTTP status and the answer's bytes.
PostJson = Callable[[str, bytes], Awaitable[tuple[int, bytes]]]

_KEEP = 16  # rendered posts kept (a fan-out sends one or a few posts to many chats)


@dataclass(frozen=True, slots=True)
class Prepared:
    """One Bot API call serialised but for its chat id: `{"chat_id":<id>,` + `tail`."""

    method: str
    tail: bytes  # the JSON object's members after the chat id, and its closing brace
    form: str  # what was sent (SentForm, encoded), for a later edit

    def body(self, chat_id: str) -> bytes:
        return b'{"chat_id":' + _chat_id_json(chat_id) + b"," + self.tail


class FanoutSender:
    """Sends a post to one chat at a time with its call prepared once per post."""

    def __init__(
        self, post_json: PostJson, limits: PlatformLimits, *, paid_broadcast: bool
    ) -> None:
        self._post_json = post_json
        self._limits = limits
        self._paid = paid_broadcast
        self._prepared: OrderedDict[int, tuple[Post, Prepared | None]] = OrderedDict()

    def prepare(self, post: Post) -> Prepared | None:
        """The post's call, or None when it takes more than one plain call (a photo and a
        text after it, an uploaded picture, a pin): those go the ordinary way."""
        key = id(post)
        found = self._prepared.get(key)
        if found is not None and found[0] is post:
            self._prepared.move_to_end(key)
            return found[1]
        prepared = prepare(post, self._limits, paid_broadcast=self._paid)
        self._prepared[key] = (post, prepared)
        if len(self._prepared) > _KEEP:
            self._prepared.popitem(last=False)
        return prepared

    async def send(self, chat_id: str, prepared: Prepared) -> str:
        """Send to `chat_id`; the new message's id. Raises PTB's TelegramError types."""
        status, raw = await self._post_json(prepared.method, prepared.body(chat_id))
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            answer = None
        if 200 <= status <= 299:
            result = answer.get("result") if answer is not None else None
            if isinstance(result, dict) and isinstance(result.get("message_id"), int):
                return str(result["message_id"])
            raise TelegramError("Invalid server response")
        raise error_from_answer(status, answer)


def prepare(post: Post, limits: PlatformLimits, *, paid_broadcast: bool) -> Prepared | None:
    """`post` as one sendMessage or sendPhoto (by URL) call, or None."""
    if post.pin or post.image_png is not None:
        return None
    payloads = render(post, limits)
    if len(payloads) != 1 or isinstance(payloads[0].photo, bytes):
        return None
    fields = _fields(payloads[0])
    if paid_broadcast:
        fields["allow_paid_broadcast"] = True
    members = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return Prepared(payloads[0].method, members[1:].encode(), SentForm.of(payloads).encode())


def _fields(payload: Payload) -> dict[str, Any]:
    """The call's parameters as python-telegram-bot sends them (see telegram_calls)."""
    fields: dict[str, Any]
    if payload.method == SEND_PHOTO:
        fields = {"photo": payload.photo}
        if payload.html:
            fields["caption"] = payload.html
    else:
        fields = {"text": payload.html, "link_preview_options": {}}
        fields["link_preview_options"]["is_disabled"] = not payload.link_preview
    fields["parse_mode"] = "HTML"
    if payload.keyboard:
        fields["reply_markup"] = {
            "inline_keyboard": [
                [
                    {"text": b.label, "url": b.url}
                    if b.url is not None
                    else {"text": b.label, "callback_data": b.callback_data}
                    for b in row
                ]
                for row in payload.keyboard
            ]
        }
    return fields


def _chat_id_json(chat_id: str) -> bytes:
    """A numeric chat id as a number (as PTB sends it), a @username as a string."""
    if chat_id.lstrip("-").isdigit():
        return chat_id.encode()
    return json.dumps(chat_id).encode()


def error_from_answer(status: int, answer: dict[str, Any] | None) -> TelegramError:
    """The exception python-telegram-bot raises for this error answer (its
    `BaseRequest._request_wrapper`: parameters first, then the HTTP status)."""
    try:
        message = f"{HTTPStatus(status).phrase} ({status})"
    except ValueError:
        message = f"Unknown HTTPError ({status})"
    if answer is not None:
        message = str(answer.get("description") or message)
        parameters = answer.get("parameters")
        if isinstance(parameters, dict):
            if parameters.get("migrate_to_chat_id"):
                return ChatMigrated(int(parameters["migrate_to_chat_id"]))
            if parameters.get("retry_after"):
                return RetryAfter(int(parameters["retry_after"]))
    if status == HTTPStatus.FORBIDDEN:
        return Forbidden(message)
    if status in (HTTPStatus.NOT_FOUND, HTTPStatus.UNAUTHORIZED):
        return InvalidToken(message)
    if status == HTTPStatus.BAD_REQUEST:
        return BadRequest(message)
    if status == HTTPStatus.CONFLICT:
        return Conflict(message)
    return NetworkError(message)
