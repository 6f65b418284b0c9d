"""Donations: campaigns, earmarked payment links, the ledger, progress and milestones.

`build_donations` is the one place the donations service is assembled from
the config; the app holds the result in `Services.donations` and runs its
`jobs()` (the reconciliation poller or catch-up pass) in the background; the
`[web]` server serves the webhook route.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.chat import ChatRef, Incoming
from bot.donations.campaigns import Campaign, CampaignTranslation
from bot.donations.changes import CampaignChanges
from bot.donations.events import HANDLED_TYPES
from bot.donations.ledger import Ledger
from bot.donations.money import to_minor
from bot.donations.providers import PaymentLinks, ProviderError, StaticLinks, key_mode
from bot.donations.reconcile import ApplyEvent, Reconciler
from bot.donations.webhook import StripeWebhook
from bot.outbox import Outbox
from bot.outbox.audience import Audience
from bot.storage import Database

if TYPE_CHECKING:
    from bot.config import CampaignEntry, Config
    from bot.donations.stripe_provider import StripeApi

__all__ = ["Campaign", "Donations", "Job", "ProviderError", "build_donations", "choice_key"]

log = logging.getLogger(__name__)

Job = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


# Keyed per process: the key goes to Stripe (which shows it in its request log), and
# a plain hash of a chat id and a message id could be confirmed by anyone who guesses
# them. A restart only means a tap repeated across it makes a second payment page.
_KEY_SALT = secrets.token_bytes(32)


def choice_key(incoming: Incoming, choice: str) -> str:
    """The idempotency key for one donation choice made by one person's message or tap.

    The same tap delivered twice gives the same key, so the provider makes one
    payment page; another message (a new choice) gives another. The sender is part
    of the key: under a group's menu everyone presses the same message's button,
    and each person must get their own payment page.
    """
    if incoming.message_id is None:
        return "outreach-donate-" + secrets.token_hex(16)
    raw = "\n".join(
        [incoming.platform, incoming.chat.id, incoming.sender.id, incoming.message_id, choice]
    )
    digest = hmac.new(_KEY_SALT, raw.encode(), hashlib.sha256).hexdigest()
    return "outreach-donate-" + digest[:40]


@dataclass(frozen=True, slots=True)
class Donations:
    """The donations service as handlers and the app see it."""

    campaigns: dict[str, Campaign]
    ledger: Ledger
    providers: dict[str, PaymentLinks]
    stripe: StripeApi | None = None
    webhook: StripeWebhook | None = None
    reconciler: Reconciler | None = None
    # Published by the ledger after each commit; the web server's live pages listen.
    changes: CampaignChanges = field(default_factory=CampaignChanges)
    portal_url: str = ""  # Stripe's customer portal login link, for monthly donors

    def active_campaigns(self) -> list[Campaign]:
        return [c for c in self.campaigns.values() if c.active]

    def provider_for(self, campaign: Campaign) -> PaymentLinks:
        return self.providers[campaign.provider]

    def offers_monthly(self, campaign: Campaign) -> bool:
        """Whether /donate offers monthly giving for `campaign`."""
        return campaign.monthly and self.provider_for(campaign).makes_monthly

    async def link(
        self,
        campaign: Campaign,
        amount_minor: int | None,
        *,
        request_key: str,
        notify_chat: ChatRef | None = None,
        language: str = "",
        monthly: bool = False,
    ) -> str:
        """A payment page URL (a monthly gift's with `monthly`); with `notify_chat`, that
        chat is thanked once (in `language`) when it is paid.

        Raises ProviderError.
        """
        provider = self.provider_for(campaign)
        token = None
        if notify_chat is not None and provider.confirms_payments:
            token = await self.ledger.thank_token(request_key, notify_chat, language)
        return await provider.link(
            campaign,
            amount_minor,
            idempotency_key=request_key,
            thank_token=token,
            monthly=monthly,
        )

    def jobs(self) -> list[Job]:
        """Background jobs: the reconciliation poller, or with a webhook secret set the
        slow catch-up pass of deliveries that failed (the `[web]` server serves the route)."""
        return [self._reconcile] if self.reconciler is not None else []

    async def _reconcile(self, stop: asyncio.Event) -> None:
        assert self.reconciler is not None
        try:
            await self.reconciler.run(stop)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the payment service's HTTP session (safe to call twice)."""
        if self.stripe is not None:
            await self.stripe.aclose()


def campaign_from_config(entry: CampaignEntry) -> Campaign:
    """A configured campaign with its amounts in minor units."""
    cur = entry.currency
    return Campaign(
        id=entry.id,
        title=entry.title,
        earmark=entry.earmark,
        description=entry.description,
        goal=to_minor(entry.goal, cur),
        currency=cur,
        amounts=tuple(to_minor(a, cur) for a in entry.amounts),
        highlight=None if entry.highlight is None else to_minor(entry.highlight, cur),
        custom_amount=entry.custom_amount,
        deadline=entry.deadline,
        active=entry.active,
        channels=tuple(entry.channels),
        provider=entry.provider,
        milestones=tuple(sorted(set(entry.milestones))),
        monthly=entry.monthly,
        monthly_amounts=tuple(to_minor(a, cur) for a in entry.monthly_amounts),
        translations=tuple(
            (code, CampaignTranslation(t.title or "", t.description or ""))
            for code, t in sorted(entry.translations.items())
        ),
    )


def build_donations(
    config: Config,
    db: Database,
    audience: Audience,
    outbox: Outbox,
    *,
    clock: Callable[[], float] = time.time,
    environ: Mapping[str, str] = os.environ,
) -> Donations:
    """Assemble the donations service from the config (secrets from `environ`)."""
    campaigns = {c.id: campaign_from_config(c) for c in config.campaigns}
    changes = CampaignChanges(campaigns)
    uses_stripe = any(c.provider == "stripe" for c in campaigns.values())
    key = environ.get(config.stripe.secret_key_env, "") if uses_stripe else ""
    ledger = Ledger(
        db,
        audience,
        outbox,
        campaigns,
        clock=clock,
        on_change=changes.publish,
        mode=key_mode(key) if key else None,
        portal_url=config.stripe.portal_url,
    )
    providers: dict[str, PaymentLinks] = {}
    if config.donations.static_url:
        providers["static"] = StaticLinks(
            config.donations.static_url, monthly_template=config.donations.static_monthly_url
        )
    base = Donations(campaigns, ledger, providers, changes=changes)
    if not uses_stripe:
        return base
    return _with_stripe(config, db, base, clock, environ)


def _with_stripe(
    config: Config,
    db: Database,
    base: Donations,
    clock: Callable[[], float],
    environ: Mapping[str, str],
) -> Donations:
    """Add the Stripe provider, and the webhook server or the reconciliation poller."""
    # Imported here: stripe takes a noticeable time to import, and static-only
    # deployments (and the demo) never need it.
    from bot.donations import stripe_provider as sp  # noqa: PLC0415
    from bot.donations.stripe_links import StripeLinks  # noqa: PLC0415

    section = config.stripe
    key = environ.get(section.secret_key_env)
    if not key:
        raise ValueError(f"environment variable {section.secret_key_env} is not set")
    api = sp.StripeApi(
        key,
        api_base=section.api_base,
        max_network_retries=section.max_network_retries,
        timeout=section.timeout,
    )
    providers = {
        **base.providers,
        "stripe": StripeLinks(
            api,
            db,
            success_url=section.success_url,
            cancel_url=section.cancel_url,
            portal_url=section.portal_url,
            clock=clock,
        ),
    }
    webhook, reconciler = _payments_in(config, db, api, base.ledger.apply_event, environ)
    return Donations(
        base.campaigns,
        base.ledger,
        providers,
        api,
        webhook,
        reconciler,
        changes=base.changes,
        portal_url=section.portal_url,
    )


def _payments_in(
    config: Config,
    db: Database,
    api: StripeApi,
    apply: ApplyEvent,
    environ: Mapping[str, str],
) -> tuple[StripeWebhook | None, Reconciler]:
    """How payments come in: signed webhooks plus an hourly catch-up pass when a webhook
    secret is set, else the reconciliation poller alone."""
    from bot.donations import stripe_provider as sp  # noqa: PLC0415 - see _with_stripe

    section = config.stripe
    secret = environ.get(section.webhook_secret_env)
    reconciler = Reconciler(
        db,
        api,
        apply,
        types=HANDLED_TYPES,
        interval=section.catch_up if secret else section.reconcile_interval,
        failed_deliveries_only=bool(secret),
    )
    if not secret:
        log.info(
            "no webhook secret in %s: payments are read from Stripe's event list instead",
            section.webhook_secret_env,
        )
        return None, reconciler
    # Signatures are about real time, whatever clock the rest of the bot is given.
    webhook = StripeWebhook(secret=secret, verify=sp.verify_signature, apply=apply)
    return webhook, reconciler
