"""The outbox's one entry point: every item for many chats is enqueued here."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

from bot.chat import Post
from bot.chat.codec import post_to_json
from bot.outbox.wake import Wake
from bot.storage import Database, Tx
from bot.storage import outbox as q


@dataclass(frozen=True, slots=True)
class Item:
    """What to deliver: an article, announcement, milestone, notice or thank-you."""

    kind: str
    post: Post
    ref: str | None = None  # what it carries (an article's or announcement's id)
    # Ahead of every row already due: a person's reply that another instance sends.
    first: bool = False


class Outbox:
    """Writes items and their delivery rows inside the caller's transaction, and wakes
    the platforms' workers once that transaction has committed."""

    def __init__(self, db: Database, wake: Wake, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._wake = wake
        self._clock = clock

    async def enqueue(self, tx: Tx, item: Item, targets: Sequence[q.Target]) -> int | None:
        """The item and one pending delivery per target, in `tx`; its id (None: no targets)."""
        if not targets:
            return None
        item_id = await q.insert_item(
            tx, kind=item.kind, ref=item.ref, post_json=post_to_json(item.post),
            targets=targets, now=self._clock(), due=0.0 if item.first else None,
        )  # fmt: skip
        self._wake_after_commit(tx, (t.platform for t in targets))
        return item_id

    async def enqueue_alone(self, item: Item, targets: Sequence[q.Target]) -> int | None:
        """`enqueue` in a transaction of its own."""
        if not targets:
            return None
        async with self._db.transaction() as tx:
            return await self.enqueue(tx, item, targets)

    async def enqueue_edit(self, tx: Tx, item_id: int, post: Post) -> int:
        """Change an item to `post` and queue an edit of each message already sent for it,
        in `tx`; returns how many edits were queued."""
        platforms = await q.insert_edits(tx, item_id, post_to_json(post), self._clock())
        self._wake_after_commit(tx, platforms)
        return len(platforms)

    async def resume_chat(self, platform: str, chat_id: str) -> int:
        """A paused chat takes posts again: its waiting rows are due now. Returns how many."""
        now = self._clock()
        resumed = await q.delay_chat(self._db, platform, chat_id, now, now)
        self._wake(platform)
        return resumed

    def _wake_after_commit(self, tx: Tx, platforms: Iterable[str]) -> None:
        for platform in sorted(set(platforms)):
            tx.after_commit(partial(self._wake, platform))
