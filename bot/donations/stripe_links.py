"""Payment links as Stripe Checkout Sessions: one-off gifts (a fixed amount, or "any
amount" through a Price made once per campaign and stored) and monthly gifts.

The calls themselves go through `stripe_provider.StripeApi`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.donations.campaigns import Campaign
from bot.donations.money import MINIMUM_CHARGE
from bot.donations.providers import SOURCE_KEY, SOURCE_VALUE
from bot.donations.stripe_provider import MissingPrice, StripeApi, digest
from bot.storage import Database
from bot.storage import ledger as lq

if TYPE_CHECKING:
    from stripe.params import PriceCreateParams
    from stripe.params.checkout import SessionCreateParams, SessionCreateParamsLineItem

log = logging.getLogger(__name__)


class StripeLinks:
    """Payment links as Stripe Checkout Sessions, one per donation choice."""

    confirms_payments = True
    makes_monthly = True

    def __init__(
        self,
        api: StripeApi,
        db: Database,
        *,
        success_url: str,
        cancel_url: str,
        portal_url: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.db = db
        self.success_url = success_url
        self.cancel_url = cancel_url
        self.portal_url = portal_url
        self.clock = clock
        self._price_lock = asyncio.Lock()

    async def link(
        self,
        campaign: Campaign,
        amount_minor: int | None,
        *,
        idempotency_key: str,
        thank_token: str | None,
        monthly: bool = False,
    ) -> str:
        """A Checkout Session URL; campaign, earmark and the bot's marker travel in both
        metadata sets. A stored "any amount" Price Stripe no longer has is made again.
        With `monthly`, a subscription for a fixed amount each month."""
        if monthly:
            if amount_minor is None:
                raise ValueError("a monthly gift needs a fixed amount")
            params = self._monthly_params(campaign, amount_minor, thank_token)
            return await self.api.create_checkout_session(params, idempotency_key)
        try:
            return await self._session(campaign, amount_minor, idempotency_key, thank_token)
        except MissingPrice as exc:
            log.warning("stripe has no price %s any more; making it again", exc.price_id)
            await self.custom_price(campaign, replacing=exc.price_id)
            return await self._session(campaign, amount_minor, idempotency_key, thank_token)

    async def _session(
        self, campaign: Campaign, amount_minor: int | None, key: str, thank_token: str | None
    ) -> str:
        metadata = {
            "campaign": campaign.id,
            "earmark": campaign.earmark,
            SOURCE_KEY: SOURCE_VALUE,
        }
        session_metadata = dict(metadata)
        if thank_token:
            session_metadata["thank_token"] = thank_token
        params: SessionCreateParams = {
            "mode": "payment",
            "submit_type": "donate",
            "line_items": [await self._line_item(campaign, amount_minor)],
            "metadata": session_metadata,
            "payment_intent_data": {
                "metadata": metadata,
                "description": f"{campaign.title} ({campaign.earmark})",
            },
            "custom_text": {"submit": {"message": f"Earmarked: {campaign.earmark}"}},
            # Without this Stripe may charge in the donor's currency, and the campaign's
            # total would be split across currencies that are never added together.
            "adaptive_pricing": {"enabled": False},
            "success_url": self.success_url,
            "cancel_url": self.cancel_url,
        }
        return await self.api.create_checkout_session(params, key)

    def _monthly_params(
        self, campaign: Campaign, amount_minor: int, thank_token: str | None
    ) -> SessionCreateParams:
        """A subscription-mode session: Stripe has no donor-chosen recurring price, so the
        amount is fixed; the marker and earmark go on the subscription (and so on every
        invoice, under parent.subscription_details.metadata)."""
        metadata = {"campaign": campaign.id, "earmark": campaign.earmark, SOURCE_KEY: SOURCE_VALUE}
        session_metadata = dict(metadata)
        if thank_token:
            session_metadata["thank_token"] = thank_token
        return {
            "mode": "subscription",
            "line_items": [
                {
                    "price_data": {
                        "currency": campaign.currency.lower(),
                        "unit_amount": amount_minor,
                        "recurring": {"interval": "month"},
                        "product_data": {"name": campaign.title},
                    },
                    "quantity": 1,
                }
            ],
            "metadata": session_metadata,
            "subscription_data": {
                "metadata": metadata,
                "description": f"{campaign.title} ({campaign.earmark})",
            },
            "custom_text": {"submit": {"message": f"Earmarked: {campaign.earmark}"}},
            "success_url": self.success_url,
            "cancel_url": self.cancel_url,
        }

    async def _line_item(
        self, campaign: Campaign, amount_minor: int | None
    ) -> SessionCreateParamsLineItem:
        if amount_minor is None:
            return {"price": await self.custom_price(campaign), "quantity": 1}
        return {
            "price_data": {
                "currency": campaign.currency.lower(),
                "unit_amount": amount_minor,
                "product_data": {"name": campaign.title, "description": campaign.earmark},
            },
            "quantity": 1,
        }

    def _price_key(self, campaign: Campaign) -> str:
        # Stored per account and mode: a test-mode Price does not exist for a live key.
        preset = campaign.highlight or (campaign.amounts[0] if campaign.amounts else None)
        return (
            f"custom-price:{self.api.account_ref}:{campaign.id}:{campaign.currency}:{preset}:"
            f"{digest(campaign.title)}"
        )

    async def _stored_price(self, key: str) -> tuple[str, str | None]:
        """The key the current Price is stored under, and its id (None: none yet).

        A replaced Price is stored under "<key>:after:<old id>": storage keeps one id
        per key, and following the chain finds the newest.
        """
        stored = await lq.get_stripe_object(self.db, key)
        while stored is not None:
            newer = await lq.get_stripe_object(self.db, f"{key}:after:{stored}")
            if newer is None:
                break
            key, stored = f"{key}:after:{stored}", newer
        return key, stored

    async def custom_price(self, campaign: Campaign, *, replacing: str | None = None) -> str:
        """The campaign's "any amount" Price (customer-chosen), created once and stored.

        `replacing`: Stripe says it has no Price with this id; make a new one.
        """
        base = self._price_key(campaign)
        async with self._price_lock:
            key, stored = await self._stored_price(base)
            if stored is not None and stored != replacing:
                return stored
            if stored is not None:
                key = f"{key}:after:{stored}"
            code = campaign.currency.upper()
            params: PriceCreateParams = {
                "currency": code.lower(),
                "custom_unit_amount": {"enabled": True},
                "product_data": {"name": campaign.title},
                "metadata": {"campaign": campaign.id, SOURCE_KEY: SOURCE_VALUE},
            }
            if code in MINIMUM_CHARGE:
                params["custom_unit_amount"]["minimum"] = MINIMUM_CHARGE[code]
            preset = campaign.highlight or (campaign.amounts[0] if campaign.amounts else None)
            if preset:
                params["custom_unit_amount"]["preset"] = preset
            price_id = await self.api.create_price(params, "outreach-price-" + digest(key))
            log.info("created the any-amount price for campaign %s", campaign.id)
            return await lq.put_stripe_object(self.db, key, price_id, self.clock())
