"""The ledger service: Stripe events and offline gifts in, totals and milestones out.

Entries are append-only and keyed by object and kind, so any event delivered
any number of times in any order gives the same totals. Whatever must happen
exactly once because of a new entry (the admins' notice about an unknown
campaign, a donor's thank-you, a milestone post) is written to the outbox in
the same transaction as the entry.
"""

from __future__ import annotations

import enum
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot.chat import ChatRef, Post
from bot.chat.codec import post_to_json
from bot.donations import events as ev
from bot.donations.campaigns import UNASSIGNED, Campaign, Progress, Totals, progress_from_totals
from bot.donations.campaigns import thresholds_reached as reached_for
from bot.donations.render import milestone_post, thanks_post, unassigned_notice
from bot.outbox.audience import Audience
from bot.storage import Database
from bot.storage import ledger as lq
from bot.storage import outbox as q

log = logging.getLogger(__name__)

THANK_LINK_LIFETIME = 7 * 24 * 3600.0  # Checkout Sessions expire after a day; links after a week


class Unrecorded(enum.Enum):
    DONE = "done"
    NOT_FOUND = "not_found"
    NOT_A_GIFT = "not_a_gift"
    ALREADY = "already"


@dataclass(frozen=True, slots=True)
class UnrecordResult:
    outcome: Unrecorded
    entry: lq.Entry | None = None


class Ledger:
    """Applies facts to the append-only ledger and reports campaign totals."""

    def __init__(
        self,
        db: Database,
        audience: Audience,
        campaigns: Mapping[str, Campaign],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.audience = audience
        self.campaigns = dict(campaigns)
        self.clock = clock

    # --- in -------------------------------------------------------------------------

    async def apply_event(self, event: Mapping[str, Any]) -> int:
        """Apply one Stripe event (a JSON dict); the number of new entries (0 on a replay)."""
        kind = str(event.get("type", ""))
        try:
            facts = ev.facts_from_event(event)
        except ev.MalformedEvent as exc:
            log.warning("ignored a malformed %s event: %s", kind, exc)
            return 0
        if not facts:
            return 0
        added = len(await self._append([(self._entry(f), f) for f in facts]))
        if added:
            log.info("ledger: %d new entr%s from %s", added, "y" if added == 1 else "ies", kind)
        return added

    def _entry(self, fact: ev.Fact) -> lq.NewEntry:
        known = fact.campaign if fact.campaign in self.campaigns else None
        if fact.kind in (ev.PAYMENT, ev.PAYMENT_FAILED):
            # A payment always has a campaign: an unknown one is kept, visibly, as unassigned.
            campaign: str | None = known or UNASSIGNED
        else:
            # Refunds and disputes find their campaign through the payment intent when summed.
            campaign = known
        return lq.NewEntry(
            object_id=fact.object_id,
            kind=fact.kind,
            variant=fact.variant,
            amount=fact.amount,
            currency=fact.currency,
            occurred_at=fact.occurred_at,
            campaign=campaign,
            campaign_ref=fact.campaign if known is None else None,
            payment_intent=fact.payment_intent,
            event_id=fact.event_id,
        )

    async def record_gift(self, campaign: str, amount: int, currency: str, note: str) -> int:
        """Record an offline gift (admin /record); its entry id."""
        entry = lq.NewEntry(
            object_id=f"gift:{secrets.token_hex(8)}",
            kind=ev.GIFT,
            amount=amount,
            currency=currency.upper(),
            occurred_at=self.clock(),
            campaign=campaign,
            note=note,
        )
        (entry_id,) = await self._append([(entry, None)])
        return entry_id

    async def unrecord(self, entry_id: int) -> UnrecordResult:
        """Cancel an offline gift by appending a void entry (nothing is ever deleted)."""
        entry = await lq.get_entry(self.db, entry_id)
        if entry is None:
            return UnrecordResult(Unrecorded.NOT_FOUND)
        if entry.kind != ev.GIFT:
            return UnrecordResult(Unrecorded.NOT_A_GIFT, entry)
        void = lq.NewEntry(
            object_id=entry.object_id,
            kind=ev.GIFT_VOID,
            amount=entry.amount,
            currency=entry.currency,
            occurred_at=self.clock(),
            campaign=entry.campaign,
            note=f"cancels #{entry.id}",
        )
        added = await self._append([(void, None)])
        return UnrecordResult(Unrecorded.DONE if added else Unrecorded.ALREADY, entry)

    async def thank_token(self, request_key: str, chat: ChatRef) -> str:
        """The opaque token that lets the bot thank `chat` once when this payment lands."""
        now = self.clock()
        return await lq.thank_token(
            self.db,
            request_key=request_key,
            new_token=secrets.token_urlsafe(16),
            link=lq.ThankLink(chat.platform, chat.id, str(chat.kind)),
            now=now,
            expire_before=now - THANK_LINK_LIFETIME,
        )

    # --- the one transaction ------------------------------------------------------

    async def _append(self, items: Sequence[tuple[lq.NewEntry, ev.Fact | None]]) -> list[int]:
        """Append what is new, with its consequences, in one transaction; the new ids."""
        targets = await self._channel_targets()
        woken: list[q.Target] = []
        added: list[int] = []
        async with self.db.transaction() as conn:
            now = self.clock()
            for entry, fact in items:
                entry_id = await lq.append_entry(conn, entry, now)
                if entry_id is None:
                    continue
                added.append(entry_id)
                if fact is not None and fact.kind == ev.PAYMENT:
                    woken += await self._after_payment(conn, entry, fact, now)
            if added:
                woken += await self._milestones(conn, targets, now)
        self.audience.wake_all(woken)
        return added

    async def _enqueue(
        self, conn: aiosqlite.Connection, kind: str, post: Post, targets: list[q.Target], now: float
    ) -> int | None:
        if not targets:
            return None
        return await q.insert_item(
            conn, kind=kind, ref=None, post_json=post_to_json(post), targets=targets, now=now
        )

    async def _after_payment(
        self, conn: aiosqlite.Connection, entry: lq.NewEntry, fact: ev.Fact, now: float
    ) -> list[q.Target]:
        woken: list[q.Target] = []
        if entry.campaign == UNASSIGNED:
            log.warning("a payment named an unknown campaign; counted as unassigned")
            notice = unassigned_notice(entry.object_id, fact.campaign, entry.amount, entry.currency)
            await self._enqueue(conn, "notice", notice, self.audience.admins, now)
            woken += self.audience.admins
        if fact.thank_token:
            link = await lq.take_thank_link(conn, fact.thank_token)
            if link is not None and link.platform in self.audience.platforms:
                target = q.Target(link.platform, link.chat_id, link.chat_kind, "thanks")
                post = thanks_post(self.campaigns.get(entry.campaign or ""))
                await self._enqueue(conn, "thanks", post, [target], now)
                woken.append(target)
        return woken

    async def _channel_targets(self) -> dict[str, list[q.Target]]:
        return {
            c.id: await self.audience.channel_targets(c.channels)
            for c in self.campaigns.values()
            if c.active
        }

    async def _milestones(
        self, conn: aiosqlite.Connection, targets: dict[str, list[q.Target]], now: float
    ) -> list[q.Target]:
        """Record newly passed milestones; announce the highest of them once."""
        woken: list[q.Target] = []
        for campaign in self.campaigns.values():
            if not campaign.active:
                continue
            raised = await lq.campaign_net(conn, campaign.id, campaign.currency)
            passed = await lq.passed_milestones(conn, campaign.id)
            new = sorted(set(reached_for(campaign, raised)) - passed)
            if not new:
                continue
            # Several thresholds at once (a large gift) make one post, not a burst.
            post = milestone_post(campaign, new[-1], raised)
            channel_targets = targets.get(campaign.id, [])
            item_id = await self._enqueue(conn, "milestone", post, channel_targets, now)
            await lq.record_milestones(conn, campaign.id, new, now, item_id)
            log.info("campaign %s passed %d%% of its goal", campaign.id, new[-1])
            woken += channel_targets
        return woken

    # --- out ------------------------------------------------------------------------

    async def totals(self) -> dict[str, dict[str, Totals]]:
        """Net total and donation count per campaign (or 'unassigned') and currency."""
        out: dict[str, dict[str, Totals]] = {}
        for row in await lq.totals(self.db):
            out.setdefault(row.campaign, {})[row.currency] = Totals(row.net, row.donations)
        return out

    async def progress(self, campaign_ids: Sequence[str] | None = None) -> list[Progress]:
        """Progress of the named campaigns (default: every configured one), in config order."""
        ids = list(self.campaigns) if campaign_ids is None else list(campaign_ids)
        totals = await self.totals()
        return [progress_from_totals(self.campaigns[i], totals.get(i, {})) for i in ids]
