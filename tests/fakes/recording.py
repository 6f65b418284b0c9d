"""An in-memory ChatAdapter that records what it was asked to send and can fail on cue."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bot.chat import CallGate, ChatRef, OnIncoming, PlatformLimits, Post, SentRef
from bot.chat.plain import render_plain


@dataclass
class RecordingAdapter:
    platform: str = "console"
    limits: PlatformLimits = field(
        default_factory=lambda: PlatformLimits(
            text_max=4096, caption_max=1024, global_rate=0.0, per_chat_interval=0.0
        )
    )
    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (chat id, key, text)
    edits: list[tuple[str, str, str]] = field(default_factory=list)  # (chat id, message id, text)
    failures: dict[str, list[Exception]] = field(default_factory=dict)  # chat id -> to raise
    pacing: CallGate = field(default_factory=CallGate.unlimited)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def start(self, on_incoming: OnIncoming | None) -> None:
        return None

    async def send(
        self, chat: ChatRef, post: Post, *, key: str, reply_to: str | None = None
    ) -> SentRef:
        queued = self.failures.get(chat.id)
        if queued:
            raise queued.pop(0)
        self.sent.append((chat.id, key, render_plain(post)))
        return SentRef(chat, f"m{next(self._ids)}")

    async def edit(self, sent: SentRef, post: Post, *, key: str) -> SentRef:
        self.edits.append((sent.chat.id, sent.message_id, render_plain(post)))
        return sent

    async def stop(self) -> None:
        return None

    def texts(self, chat_id: str) -> list[str]:
        return [text for chat, _, text in self.sent if chat == chat_id]
