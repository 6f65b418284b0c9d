"""Telegram's paid broadcasts, as the services report them: the Stars a fan-out costs.

With `[telegram] paid_broadcast = true` fan-out sends carry `allow_paid_broadcast` and
go out at up to `[telegram] paid_rate` messages a second. Telegram charges 0.1 Star for
each message above the free 30 a second; these are estimates of that charge, from the
messages sent and the time they took (the bill itself is Telegram's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from bot.chat import Post
from bot.i18n import Lang
from bot.outbox.audience import Audience
from bot.storage import Database, search
from bot.storage import outbox as q
from bot.storage.state import get_state, set_state

FREE_RATE = 30.0  # messages a second Telegram delivers without charge
STARS_PER_MESSAGE = 0.1  # Telegram's price of each message above the free rate
PLATFORM = "telegram"


@dataclass(frozen=True, slots=True)
class StarsEstimate:
    """Messages above the free rate and what they cost in Stars."""

    messages: int

    @property
    def stars(self) -> float:
        return round(self.messages * STARS_PER_MESSAGE, 1)


@dataclass(frozen=True, slots=True)
class PaidBroadcast:
    """Whether fan-outs to Telegram are paid broadcasts, at what rate."""

    enabled: bool = False
    rate: float = 1000.0

    def planned(self, telegram_chats: int) -> StarsEstimate | None:
        """What a fan-out to this many Telegram chats will cost at the paid rate (None when
        paid broadcasts are off or no Telegram chat is among the targets)."""
        if not self.enabled or telegram_chats <= 0:
            return None
        seconds = telegram_chats / max(self.rate, FREE_RATE)
        return StarsEstimate(max(0, telegram_chats - _free(seconds)))

    async def spent(self, db: Database, *item_ids: int) -> StarsEstimate | None:
        """What items' Telegram fan-out cost, from their sent rows and the time they took."""
        if not self.enabled or not item_ids:
            return None
        span = await q.fanout_span(db, item_ids, PLATFORM)
        if not span.sent:
            return None
        return StarsEstimate(max(0, span.sent - _free(span.seconds)))


class ArticleReports:
    """Tells the admins what each article's paid broadcast cost, once it has gone out.

    Articles are taken in the order they were queued (a state key keeps the last one
    reported), each when its Telegram sends are all final; nothing is said while paid
    broadcasts are off, nor about articles queued before they were turned on.
    """

    def __init__(self, db: Database, audience: Audience, paid: PaidBroadcast) -> None:
        self.db = db
        self.audience = audience
        self.paid = paid

    async def tick(self) -> None:
        if not self.paid.enabled:
            return
        stored = await get_state(self.db, _REPORTED)
        last = int(stored) if stored else await q.last_item_id(self.db)
        if stored is None:
            await set_state(self.db, _REPORTED, str(last))  # from now on
        for ref, item_ids in _by_article(await q.items_after(self.db, last, "article", 200)):
            span = await q.fanout_span(self.db, item_ids, PLATFORM)
            if span.unfinished:
                return  # in order: the next ones wait for this one
            spent = await self.paid.spent(self.db, *item_ids)
            if spent is not None and ref is not None:
                await self._tell(ref, span.sent, spent)
            await set_state(self.db, _REPORTED, str(item_ids[-1]))

    async def _tell(self, ref: str, sent: int, spent: StarsEstimate) -> None:
        article = await search.get_article(self.db, int(ref)) if ref.isdigit() else None
        title = article.title if article else ref

        def notice(lang: Lang) -> Post:
            chats = lang.ngettext(
                "Article “{title}” went to {n} Telegram chat by paid broadcast.",
                "Article “{title}” went to {n} Telegram chats by paid broadcast.",
                sent,
                title=title,
            )
            return Post.text(chats, paid_line(spent, lang))

        await self.audience.notify_admins(notice)


_REPORTED = "paid-broadcast:articles-reported"  # the last article item reported on


def _by_article(items: list[tuple[int, str | None]]) -> list[tuple[str | None, list[int]]]:
    """Items grouped by the article they carry (one per language and audience, queued
    together), in order."""
    groups: list[tuple[str | None, list[int]]] = []
    for item_id, ref in items:
        if groups and groups[-1][0] == ref:
            groups[-1][1].append(item_id)
        else:
            groups.append((ref, [item_id]))
    return groups


def paid_line(paid: StarsEstimate, lang: Lang) -> str:
    """ "Paid broadcast: 9,700 messages above the free rate, about 970 Stars." """
    return lang.ngettext(
        "Paid broadcast: {n} message above the free rate, about {stars} Stars.",
        "Paid broadcast: {n} messages above the free rate, about {stars} Stars.",
        paid.messages,
        stars=lang.number(Decimal(str(paid.stars))),
    )


def _free(seconds: float) -> int:
    """Messages the free rate covers in `seconds` (at least one second's worth)."""
    return math.ceil(FREE_RATE * max(1.0, seconds))
