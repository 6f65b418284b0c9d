"""Payment link providers: the interface, and static URL templates for non-Stripe forms."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import quote

from bot.donations.campaigns import Campaign

# The marker every Checkout Session and subscription the bot creates carries (see events).
from bot.donations.events import SOURCE_KEY as SOURCE_KEY  # noqa: PLC0414
from bot.donations.events import SOURCE_VALUE as SOURCE_VALUE  # noqa: PLC0414
from bot.donations.money import amount_argument
from bot.i18n import Said, Text


def key_mode(secret_key: str) -> str:
    """ "test" or "live", from a Stripe key's prefix (sk_test_, rk_live_, ...)."""
    return "live" if secret_key.startswith(("sk_live_", "rk_live_")) else "test"


class ProviderError(Said):
    """The payment service failed or refused; `exc.text(lang)` is fit to show a person.

    `transient` says whether trying again later may work (a timeout, a 5xx, a
    rate limit) as opposed to a refusal (a bad key, an amount it does not take).
    """

    def __init__(self, message: Text, /, *, transient: bool, **fields: object) -> None:
        super().__init__(message, **fields)
        self.transient = transient


class BadSignature(Exception):
    """A webhook request is not provably from the payment service (or is too old or too new)."""


class PaymentLinks(Protocol):
    """Makes the payment page link for one donation choice."""

    # True when the bot learns of payments made through these links (so it can
    # offer "tell me when it arrives").
    confirms_payments: bool
    # True when these links can be for a monthly gift.
    makes_monthly: bool

    async def link(
        self,
        campaign: Campaign,
        amount_minor: int | None,
        *,
        idempotency_key: str,
        thank_token: str | None,
        monthly: bool = False,
    ) -> str:
        """The URL of a payment page for `amount_minor` (None: the donor chooses), each
        month with `monthly` (a fixed amount).

        `idempotency_key` is the same for a repeated tap on the same choice, so a
        provider that creates objects creates one. Raises ProviderError.
        """
        ...


class StaticLinks:
    """Fills a URL template: {campaign}, {amount} ("any" for any amount), {currency}, {earmark}.

    Every value is URL-encoded, so an earmark with spaces or "&" cannot break the URL.
    Monthly gifts use `monthly_template` (`[donations] static_monthly_url`); without one
    they are not offered.
    """

    confirms_payments = False

    def __init__(self, template: str, *, monthly_template: str = "") -> None:
        self.template = template
        self.monthly_template = monthly_template
        self.makes_monthly = bool(monthly_template)

    def url(self, campaign: Campaign, amount_minor: int | None, *, monthly: bool = False) -> str:
        amount = "any" if amount_minor is None else amount_argument(amount_minor, campaign.currency)
        values = {
            "campaign": campaign.id,
            "amount": amount,
            "currency": campaign.currency,
            "earmark": campaign.earmark,
        }
        url = self.monthly_template if monthly else self.template
        if not url:
            raise ValueError("no [donations] static_monthly_url: monthly gifts are not offered")
        for name, value in values.items():
            # Plain replacement, not str.format: a template may contain other braces.
            url = url.replace("{" + name + "}", quote(value, safe=""))
        return url

    async def link(
        self,
        campaign: Campaign,
        amount_minor: int | None,
        *,
        idempotency_key: str,
        thank_token: str | None,
        monthly: bool = False,
    ) -> str:
        """The filled template; the key and token are not used (nothing is created)."""
        return self.url(campaign, amount_minor, monthly=monthly)
