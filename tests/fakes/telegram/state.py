"""What the Bot API stand-in knows, and the controls a test uses to play the users.

Chats, the bot's membership in each (member, administrator, restricted, left,
kicked), the messages each chat shows, the update queue, and the controls that
make things happen the way they happen on Telegram: a user types or presses a
button, blocks the bot, a channel admin removes the bot or adds it back, a group
becomes a supergroup.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.telegram.rules import ApiError, FloodWindows, StrictLimits

FAULT_KINDS = ("429", "403", "400", "500", "hang")
_ADMIN_RIGHTS = dict.fromkeys(
    [
        "can_be_edited",
        "can_manage_chat",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_restrict_members",
        "can_promote_members",
        "can_change_info",
        "can_invite_users",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
        "can_post_messages",
        "can_edit_messages",
        "can_pin_messages",
    ],
    True,
) | {"is_anonymous": False, "can_be_edited": False}
_NO_RIGHTS = dict.fromkeys(
    [
        "can_change_info",
        "can_invite_users",
        "can_pin_messages",
        "can_send_messages",
        "can_send_polls",
        "can_send_other_messages",
        "can_add_web_page_previews",
        "can_manage_topics",
        "can_send_audios",
        "can_send_documents",
        "can_send_photos",
        "can_send_videos",
        "can_send_video_notes",
        "can_send_voice_notes",
        "can_edit_tag",
        "can_react_to_messages",
    ],
    False,
) | {"is_member": True, "until_date": 0}


@dataclass
class Stats:
    sent: int = 0  # sends Telegram accepted
    rejected_429: int = 0  # 429 answers (flood limits and injected)
    conflicts_409: int = 0  # getUpdates refused: a webhook is set, or another poll took over
    paid: int = 0  # accepted sends that asked for a paid broadcast (allow_paid_broadcast)
    calls: Counter[str] = field(default_factory=Counter)


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


class ChatState:
    """The server's state and the test-facing controls."""

    def __init__(self, token: str | None = None) -> None:
        self.bot_id = 7_000_000_001
        self.token = token or f"{self.bot_id}:AA{secrets.token_urlsafe(30)}"
        self.bot_user = {"id": self.bot_id, "is_bot": True, "first_name": "Outreach"}
        self.bot_user |= {"username": "outreach_test_bot", "can_join_groups": True}
        self.url = ""
        self.chats: dict[int, dict[str, Any]] = {}
        self.status: dict[int, str] = {}  # chat id -> the bot's membership status there
        self.log: dict[int, list[ShownMessage]] = {}
        self.updates: list[dict[str, Any]] = []
        self.answers: dict[str, dict[str, Any]] = {}  # callback query id -> answer
        # (scope as JSON, language code) -> commands
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        # user id -> the language their Telegram app is set to (sent as `language_code`)
        self.user_languages: dict[int, str] = {}
        self.webhook: dict[str, Any] | None = None
        self.pinned: dict[int, list[int]] = {}  # chat id -> pinned message ids
        self.migrated: dict[int, int] = {}
        self.stats = Stats()
        self.limits: StrictLimits | None = None
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._faults: deque[tuple[str, int]] = deque()
        self._windows: FloodWindows | None = None
        self._ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._wakeup = asyncio.Event()
        self._closing = asyncio.Event()
        self._changed = asyncio.Event()  # set on every request, so wait_until can re-check

    # --- chats and the bot's place in them --------------------------------------------

    def add_chat(self, chat_id: int, kind: str = "private", title: str = "") -> dict[str, Any]:
        """Make a chat known with the bot in it (a private chat: its user started the bot).

        The bot is an administrator of a channel (only admins post there), a member elsewhere.
        """
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = title or f"User {chat_id}"
        else:
            chat["title"] = title or f"Chat {chat_id}"
        chat = self.chats.setdefault(chat_id, chat)
        self.status.setdefault(chat_id, "administrator" if kind == "channel" else "member")
        return chat

    def add_user(self, user_id: int) -> dict[str, Any]:
        """A user the bot can see (pressed a button under a channel post) who never started it."""
        chat = self.add_chat(user_id)
        self.status[user_id] = "left"
        return chat

    def delete_chat(self, chat_id: int) -> None:
        """The chat is gone (deleted, or never seen): calls get 400 "chat not found"."""
        self.chats.pop(chat_id, None)

    def block_bot(self, user_id: int) -> None:
        """The user blocks the bot: a my_chat_member update, then 403 on every send."""
        self.add_chat(user_id)
        self._set_status(user_id, "kicked", by=user_id)

    def kick_bot(self, chat_id: int, by: int = 1) -> None:
        """An admin bans the bot from a group or channel (403 "bot was kicked from ...")."""
        self._set_status(chat_id, "kicked", by=by)

    def remove_bot(self, chat_id: int, by: int = 1) -> None:
        """An admin removes the bot (403 "bot is not a member of ...")."""
        self._set_status(chat_id, "left", by=by)

    def restrict_bot(self, chat_id: int, by: int = 1) -> None:
        """An admin takes the bot's right to post: restricted in a group (400 "not enough
        rights to send ..."), demoted to a plain member of a channel (400 "need administrator
        rights in the channel chat")."""
        channel = self.chats[chat_id]["type"] == "channel"
        self._set_status(chat_id, "member" if channel else "restricted", by=by)

    def add_bot(self, chat_id: int, status: str = "", by: int = 1) -> None:
        """The bot is added back (or unblocked): "member" or "administrator" (a channel's default).

        For a private chat this is the user restarting the bot after blocking it.
        """
        chat = self.chats[chat_id]
        status = status or ("administrator" if chat["type"] == "channel" else "member")
        if status not in ("member", "administrator"):
            raise ValueError(f"add_bot: {status!r} is not member or administrator")
        self._set_status(chat_id, status, by=chat_id if chat["type"] == "private" else by)

    def migrate_group(self, old_id: int, new_id: int, user_id: int = 1) -> None:
        """A group becomes a supergroup: a service message, then calls to `old_id` fail."""
        old = self.add_chat(old_id, "group")
        self.add_chat(new_id, "supergroup", title=old["title"])
        self.migrated[old_id] = new_id
        message = self._message(old, sender=self._user(user_id))
        self._push({"message": message | {"migrate_to_chat_id": new_id}})

    def _set_status(self, chat_id: int, status: str, by: int) -> None:
        chat = self.chats[chat_id]
        old = self.status.get(chat_id, "left")
        self.status[chat_id] = status
        change = {"chat": chat, "from": self._user(by), "date": int(time.time())}
        change |= {"old_chat_member": self._member(old), "new_chat_member": self._member(status)}
        self._push({"my_chat_member": change})

    def _member(self, status: str) -> dict[str, Any]:
        member: dict[str, Any] = {"user": self.bot_user, "status": status}
        if status == "administrator":
            member |= _ADMIN_RIGHTS
        elif status == "restricted":
            member |= _NO_RIGHTS
        elif status == "kicked":
            member["until_date"] = 0
        return member

    # --- users acting -------------------------------------------------------------------

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

    def open_deep_link(self, user_id: int, url: str) -> int:
        """A user opens `https://t.me/<bot>?start=<payload>` and presses Start: the bot gets
        `/start <payload>` in the private chat. Telegram opens nothing for a link to another
        bot or with a payload outside 1-64 of `A-Za-z0-9_-` (ValueError here)."""
        parts = urlsplit(url)
        start = parse_qs(parts.query).get("start", [])
        if (parts.scheme, parts.netloc) != ("https", "t.me") or len(start) != 1:
            raise ValueError(f"not a Telegram deep link: {url}")
        if parts.path.strip("/") != self.bot_user["username"]:
            raise ValueError(f"a link to another bot: {url}")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", start[0]):
            raise ValueError(f"Telegram carries no such start payload: {start[0]!r}")
        return self.inject_text(user_id, f"/start {start[0]}")

    def press_button(
        self, user_id: int, message_id: int, callback_data: str, chat_id: int | None = None
    ) -> str:
        """A user presses an inline button under a bot message; returns the query id."""
        shown = self.find(user_id if chat_id is None else chat_id, message_id)
        query_id = str(next(self._ids))
        query = {"id": query_id, "from": self._user(user_id), "chat_instance": "1"}
        self._push({"callback_query": query | {"message": shown.json, "data": callback_data}})
        return query_id

    # --- failures and limits ------------------------------------------------------------

    def fail_next(self, n: int, kind: str, retry_after: int = 1) -> None:
        """Fail the next `n` sends/edits: "429", "403", "400", "500" or "hang"."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"fail_next: unknown kind {kind!r}")
        self._faults.extend([(kind, retry_after)] * n)

    def strict(self, **limits: int) -> StrictLimits:
        """Enforce rolling-window flood limits on every rated call from now on."""
        self.limits = StrictLimits(**limits)
        self._windows = FloodWindows(self.limits)
        return self.limits

    # --- what users see -----------------------------------------------------------------

    def messages(self, chat_id: int) -> list[ShownMessage]:
        return list(self.log.get(chat_id, []))

    def bot_messages(self, chat_id: int) -> list[ShownMessage]:
        return [m for m in self.log.get(chat_id, []) if m.from_bot]

    def menu(self, chat_id: int | None = None, language_code: str = "") -> list[str]:
        """The command names published for everyone, or for one chat's scope."""
        return list(self.menu_descriptions(chat_id, language_code))

    def menu_descriptions(
        self, chat_id: int | None = None, language_code: str = ""
    ) -> dict[str, str]:
        """The published menu as a user of that app language sees it: command -> description."""
        scope = {"type": "default"} if chat_id is None else {"type": "chat", "chat_id": chat_id}
        key = (json.dumps(scope, sort_keys=True), language_code)
        return {c["command"]: c["description"] for c in self.commands.get(key, [])}

    def find(
        self, chat_id: int, message_id: int, missing: str = "message not found"
    ) -> ShownMessage:
        """The message as shown, or 400 `missing` (the wording differs per method)."""
        for shown in self.log.get(chat_id, []):
            if shown.message_id == message_id:
                return shown
        raise ApiError(400, f"Bad Request: {missing}")

    async def wait_until(self, condition: Callable[[], bool], limit: float = 5.0) -> None:
        """Wait (at most `limit` seconds) until `condition()` over the server's state holds."""
        async with asyncio.timeout(limit):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    # --- helpers ------------------------------------------------------------------------

    def _user(self, user_id: int) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        if user_id in self.user_languages:
            user["language_code"] = self.user_languages[user_id]
        return user

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
