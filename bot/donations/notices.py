"""What new ledger entries make the bot say: the admins' notice about a payment for an
unknown campaign, a donor's thank-you and a campaign's milestone post.

Each is written to the outbox in the same transaction as the entries that cause it,
so it is sent exactly once however often the event is delivered.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial

from bot.donations import events as ev
from bot.donations.campaigns import UNASSIGNED, Campaign
from bot.donations.campaigns import thresholds_reached as reached_for
from bot.donations.render import milestone_post, thanks_post, unassigned_notice
from bot.i18n import Lang, supported_languages
from bot.outbox.audience import Audience
from bot.storage import Tx
from bot.storage import ledger as lq
from bot.storage import outbox as q
from bot.storage import thanks as tq

log = logging.getLogger(__name__)


class LedgerNotices:
    """Queues the posts new entries call for, inside the ledger's transaction."""

    def __init__(
        self, audience: Audience, campaigns: Mapping[str, Campaign], portal_url: str = ""
    ) -> None:
        self.audience = audience
        self.campaigns = campaigns
        self.portal_url = portal_url  # where a monthly donor manages their gift

    async def after_payment(self, tx: Tx, entry: lq.NewEntry, fact: ev.Fact) -> None:
        if entry.campaign == UNASSIGNED:
            log.warning("a payment named an unknown campaign; counted as unassigned")
            notice = partial(
                unassigned_notice, entry.object_id, fact.campaign, entry.amount, entry.currency
            )
            await self.audience.enqueue_localized(tx, "notice", notice, self.audience.admins)
        await self.thank(tx, fact)

    async def thank(self, tx: Tx, fact: ev.Fact) -> None:
        """Queue the thank-you a donor asked for, and forget the link to their chat.

        It reads in the language the donor used when they asked (kept on the link, and
        forgotten with it), else the one the bot knows for that chat. The outbox row names
        the chat only until it is sent (or fails for good): storage then forgets the chat
        and the text and rounds the row's times to the hour.
        """
        if not fact.thank_token:
            return
        link = await tq.take_thank_link(tx, fact.thank_token)
        if link is None or link.platform not in self.audience.platforms:
            return
        target = q.Target(link.platform, link.chat_id, link.chat_kind, "thanks")
        monthly = fact.kind == ev.SUBSCRIPTION_STARTED
        thanks = partial(
            thanks_post,
            self.campaigns.get(fact.campaign or ""),
            portal_url=self.portal_url if monthly else "",
        )
        asked_in = Lang.of(link.language) if link.language in supported_languages() else None
        await self.audience.enqueue_localized(tx, "thanks", thanks, [target], lang=asked_in)

    async def milestones(
        self,
        tx: Tx,
        raised_by_campaign: Mapping[str, int],
        passed_before: Mapping[str, frozenset[int]],
        now: float,
    ) -> dict[str, frozenset[int]]:
        """Record newly passed milestones; announce the highest of them once.

        Returns the milestones now known to be passed, per campaign.
        """
        known = dict(passed_before)
        for campaign in self.campaigns.values():
            if not campaign.active:
                continue
            raised = raised_by_campaign[campaign.id]
            reached = set(reached_for(campaign, raised))
            if reached <= known.get(campaign.id, frozenset()):
                continue
            passed = await lq.passed_milestones(tx, campaign.id)
            known[campaign.id] = frozenset(passed | reached)
            new = sorted(reached - passed)
            if not new:
                continue
            # Several thresholds at once (a large gift) make one post, not a burst.
            post = partial(milestone_post, campaign, new[-1], raised)
            # Read here, inside the transaction: only a new milestone needs them.
            channel_targets = await self.audience.channel_targets(campaign.channels)
            # An item per channel language; the milestone row names the first.
            item_ids = await self.audience.enqueue_localized(tx, "milestone", post, channel_targets)
            await lq.record_milestones(tx, campaign.id, new, now, item_ids[0] if item_ids else None)
            log.info("campaign %s passed %d%% of its goal", campaign.id, new[-1])
        return known
