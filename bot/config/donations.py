"""The sections about money and its pages: `[[campaigns]]`, `[stripe]`, `[donations]`
and `[web]`.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    Field,
    field_validator,
    model_validator,
)

from bot.config.fields import (
    Duration,
    HttpUrl,
    LanguageCode,
    Section,
    Slug,
    _http_url,
)
from bot.donations.money import exponent as currency_exponent
from bot.donations.money import to_minor

TRANSLATABLE_CAMPAIGN_FIELDS = ("title", "description")


class CampaignText(Section):
    """`[campaigns.translations.<lang>]`: the campaign's title and description in one language."""

    title: str | None = Field(default=None, min_length=1)
    description: str | None = None


class CampaignEntry(Section):
    id: Slug
    title: str = Field(min_length=1)
    earmark: str = Field(min_length=1, max_length=200)
    description: str = ""
    goal: Decimal = Field(gt=0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    amounts: list[Decimal] = [Decimal(10), Decimal(25), Decimal(50), Decimal(100)]
    highlight: Decimal | None = Decimal(50)
    custom_amount: bool = True
    deadline: date | None = None
    active: bool = True
    # Articles whose title or categories contain one of these (whole words, any case)
    # carry this campaign's Donate button; `progress_on_posts` adds its figures.
    match: list[Annotated[str, Field(min_length=1)]] = []
    progress_on_posts: bool = False
    channels: list[str] = []
    provider: Literal["stripe", "static"] = "static"
    milestones: list[Annotated[int, Field(ge=1, le=1000)]] = [25, 50, 75, 100]
    # Monthly giving: fixed amounts only (Stripe has no donor-chosen recurring price).
    monthly: bool = False
    monthly_amounts: list[Decimal] = [Decimal(5), Decimal(10), Decimal(25)]
    translations: dict[LanguageCode, CampaignText] = {}

    def title_in(self, language: str) -> str:
        """The title in `language` when translated, else the configured one."""
        text = self.translations.get(language)
        return text.title if text and text.title else self.title

    def description_in(self, language: str) -> str:
        """The description in `language` when translated, else the configured one."""
        text = self.translations.get(language)
        return text.description if text and text.description else self.description

    @field_validator("amounts", "monthly_amounts")
    @classmethod
    def _positive(cls, value: list[Decimal]) -> list[Decimal]:
        if any(a <= 0 for a in value):
            raise ValueError("every suggested amount must be greater than 0")
        return value

    @model_validator(mode="after")
    def _exact_in_currency(self) -> CampaignEntry:
        """Amounts must be whole minor units of the currency (no 10.5 JPY, no 1.005 USD)."""
        for amount in [self.goal, *self.amounts, *self.monthly_amounts]:
            try:
                to_minor(amount, self.currency)
            except ValueError:
                places = currency_exponent(self.currency)
                raise ValueError(
                    f"{amount} {self.currency}: {self.currency} amounts have "
                    + (f"at most {places} decimals" if places else "no decimals")
                ) from None
        return self


class StripeSection(Section):
    secret_key_env: str = "STRIPE_SECRET_KEY"
    # Optional: without it in the environment, payments are read from Stripe's event list.
    webhook_secret_env: str = "STRIPE_WEBHOOK_SECRET"
    api_base: HttpUrl = "https://api.stripe.com"
    success_url: HttpUrl = "https://example.org/thank-you"
    cancel_url: HttpUrl = "https://example.org/donate"
    max_network_retries: int = Field(default=2, ge=0, le=5)
    timeout: Annotated[Duration, Field(gt=0, le=120)] = 20.0
    reconcile_interval: Annotated[Duration, Field(ge=10)] = 60.0
    # With a webhook secret: how often to read the events Stripe failed to deliver.
    catch_up: Annotated[Duration, Field(ge=60)] = 3600.0
    # Stripe's no-code customer portal login link, shown to monthly donors (cancelling).
    portal_url: HttpUrl | Literal[""] = ""


class DonationsSection(Section):
    static_url: str = ""
    # A monthly giving page of a non-Stripe provider; without it, static campaigns
    # offer no monthly option.
    static_monthly_url: str = ""

    @field_validator("static_url", "static_monthly_url")
    @classmethod
    def _template(cls, value: str) -> str:
        if not value:
            return value
        _http_url(value)
        known = {"campaign", "amount", "currency", "earmark"}
        unknown = set(re.findall(r"{([^}]*)}", value)) - known
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)}; "
                "use {campaign}, {amount}, {currency}, {earmark}"
            )
        return value


def web_origin(value: str) -> str:
    """ "*" or a scheme://host[:port] origin, as CSP frame-ancestors takes it."""
    if value == "*":
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise ValueError(f"{value!r} is not an origin like https://example.org (or *)")
    if parts.query or parts.fragment or any(ch in value for ch in " ;,'\""):
        raise ValueError(f"{value!r} is not an origin like https://example.org (or *)")
    return f"{parts.scheme}://{parts.netloc}"


class WebSection(Section):
    # The server runs when enabled, or when a Stripe webhook secret is set (it hosts the webhook).
    enabled: bool = False
    listen: str = "127.0.0.1:8080"
    # The address the world sees (behind the TLS proxy); chat replies link to campaign pages here.
    public_url: HttpUrl | None = None
    pages: bool = True
    # Sites allowed to show the widget in an iframe (CSP frame-ancestors); "*" is any.
    embed_origins: list[Annotated[str, AfterValidator(web_origin)]] = ["*"]
    donate_per_minute: int = Field(default=10, ge=1, le=10_000)
    heartbeat: Annotated[Duration, Field(gt=0, le=300)] = 15.0
    # Behind a reverse proxy every request comes from the proxy: take the client's address
    # from the last X-Forwarded-For entry instead (only if the proxy sets it).
    trust_forwarded: bool = False

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        # Port 0 binds any free port (the server logs the one it got); tests use it.
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError("not HOST:PORT")
        return value
