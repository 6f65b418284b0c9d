"""The Telegram adapter's rig: the real PTB against the Bot API stand-in, which is the observer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

from bot.adapters.telegram import TelegramAdapter
from bot.chat import ChatKind, ChatRef
from tests.contract.capabilities import CAPABILITIES
from tests.contract.relay import Relay
from tests.contract.rig import Refusing, Shown
from tests.fakes.telegram import ShownMessage, TelegramApi, telegram_api, utf16_len

GROUP_ID = -4_001  # a basic group: it can become a supergroup
SUPERGROUP_ID = -1_001_004_001
PERSON_ID = 501
BLOCKING_PERSON_ID = 777
UNKNOWN_CHAT_ID = -1_009_999_999


def seen(message: ShownMessage) -> Shown:
    """What a Telegram client shows for a message: a photo's caption, else the text.

    Read from the message object as the API returns it, the way a client
    renders it (a text message shows `text`, a photo `caption`).
    """
    data = message.json
    text = str(data.get("caption", "")) if message.photo is not None else str(data.get("text", ""))
    keyboard = data.get("reply_markup", {}).get("inline_keyboard", [])
    buttons = tuple(
        (str(b["text"]), str(b.get("callback_data") or b.get("url")))
        for row in keyboard
        for b in row
    )
    reply = None if message.reply_to is None else str(message.reply_to)
    return Shown(
        str(message.message_id),
        text,
        image=message.photo,
        buttons=buttons,
        reply_to=reply,
        size=utf16_len(text),
    )


class TelegramRig:
    """A group chat the bot is a member of, on a fresh stand-in per test."""

    name = "telegram"
    caps = CAPABILITIES["telegram"]

    def __init__(self, api: TelegramApi) -> None:
        self.api = api
        api.add_chat(GROUP_ID, "group", title="Volunteers")
        self.adapter = TelegramAdapter(token=api.token, api_base=f"{api.url}/bot")
        self.chat = ChatRef("telegram", str(GROUP_ID), ChatKind.GROUP, "Volunteers")
        self._cleanups: list[Callable[[], Awaitable[None]]] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls) -> AsyncIterator[TelegramRig]:
        async with telegram_api() as api:
            rig = cls(api)
            await rig.adapter.start(None)
            try:
                yield rig
            finally:
                for cleanup in reversed(rig._cleanups):
                    await cleanup()
                await rig.adapter.stop()

    async def shown(self, chat: ChatRef) -> list[Shown]:
        return [seen(m) for m in self.api.bot_messages(int(chat.id))]

    async def pinned(self, chat: ChatRef) -> list[str]:
        return [str(i) for i in self.api.pinned.get(int(chat.id), [])]

    async def person_says(self, text: str) -> tuple[ChatRef, str]:
        message_id = self.api.inject_text(PERSON_ID, text, chat_type="group", chat_id=GROUP_ID)
        return self.chat, str(message_id)

    async def gone_chat(self, how: str) -> ChatRef:
        if how == "removed":
            self.api.add_chat(BLOCKING_PERSON_ID)
            self.api.block_bot(BLOCKING_PERSON_ID)
            return ChatRef("telegram", str(BLOCKING_PERSON_ID), ChatKind.PRIVATE)
        return ChatRef("telegram", str(UNKNOWN_CHAT_ID), ChatKind.GROUP)

    async def move_chat(self, chat: ChatRef) -> str:
        self.api.migrate_group(int(chat.id), SUPERGROUP_ID)
        return str(SUPERGROUP_ID)

    async def rate_limited(self) -> Refusing:
        self.api.fail_next(1, "429", retry_after=7)
        return Refusing(self.adapter, self.chat, _nothing, retry_after=7.0)

    async def unreachable(self) -> Refusing:
        """The bot reaches the stand-in through a relay, which then stops listening.

        (A 5xx is no such case: Telegram answered, and may have posted: MaybeDelivered.)
        """
        port = urlsplit(self.api.url).port
        assert port is not None
        relay = await Relay.open(port)
        self._cleanups.append(relay.close)
        adapter = TelegramAdapter(token=self.api.token, api_base=f"{relay.url}/bot")
        await adapter.start(None)
        self._cleanups.append(adapter.stop)
        await relay.close()
        return Refusing(adapter, self.chat, relay.reopen)


async def _nothing() -> None:
    """The stand-in's injected faults end by themselves."""
