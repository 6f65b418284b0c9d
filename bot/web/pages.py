"""The HTML routes: the campaign list, a campaign's page and donate form, the widget."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from aiohttp import web

from bot.donations import ProviderError
from bot.donations.campaigns import Campaign
from bot.donations.money import AmountError, amount_argument, parse_amount
from bot.i18n import N_, Lang
from bot.web.lang import reader
from bot.web.site import Site, html, lang_of, not_found

log = logging.getLogger(__name__)

WIDGET_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
)


def suggested(campaign: Campaign, lang: str) -> list[tuple[str, str]]:
    """(form value, label) of each suggested amount, the highlighted one first."""
    ordered = sorted(campaign.amounts, key=lambda a: a != campaign.highlight)
    return [
        (amount_argument(a, campaign.currency), reader(lang).money(a, campaign.currency))
        for a in ordered
    ]


def monthly_choices(campaign: Campaign, lang: str) -> list[tuple[str, str]]:
    """(form value, label) of each monthly amount: "$10 a month"."""
    words = reader(lang)
    return [
        (
            amount_argument(a, campaign.currency),
            words.gettext("{amount} a month", amount=words.money(a, campaign.currency)),
        )
        for a in campaign.monthly_amounts
    ]


def chosen_amount(campaign: Campaign, form: dict[str, str], lang: Lang) -> int | None:
    """Minor units from the form (a typed amount wins over a suggested one).

    None means the donor chooses on the payment page; raises AmountError for the person.
    """
    typed = form.get("custom", "").strip()
    text = typed or form.get("amount", "").strip()
    if not text:
        raise AmountError(N_("Choose an amount, or type one."))
    if typed and not campaign.custom_amount:
        raise AmountError(N_("This campaign takes the suggested amounts only."))
    minor = parse_amount(text, campaign.currency, lang=lang)
    if not typed and minor not in campaign.amounts:
        raise AmountError(N_("Choose one of the suggested amounts."))
    return minor


def chosen_monthly(campaign: Campaign, form: dict[str, str], offered: bool, lang: Lang) -> int:
    """A monthly gift's minor units: one of the campaign's monthly amounts (Stripe has no
    customer-chosen recurring price); raises AmountError for the person."""
    if not offered:
        raise AmountError(N_("This campaign does not offer monthly gifts."))
    text = form.get("amount", "").strip()
    if not text:
        raise AmountError(N_("Choose a monthly amount."))
    minor = parse_amount(text, campaign.currency, lang=lang)
    if minor not in campaign.monthly_amounts:
        raise AmountError(N_("Choose one of the monthly amounts."))
    return minor


def _kind(monthly: bool) -> str:
    return "monthly" if monthly else "one-off"


class Pages:
    """Handlers for the pages people see."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[web.RouteDef]:
        slug = "{id:[a-z0-9_-]+}"
        return [
            web.get("/campaigns", self.index),
            web.get("/campaigns/", self.index),
            web.get(f"/campaigns/{slug}", self.campaign),
            web.post(f"/campaigns/{slug}/donate", self.donate),
            web.get(f"/campaigns/{slug}/widget", self.widget),
        ]

    async def index(self, request: web.Request) -> web.Response:
        lang = lang_of(request)
        active = self.site.donations.active_campaigns()
        views = [await self.site.view(c) for c in active]
        pairs = [(v, v.display(lang)) for v in views]
        return html("campaigns.html", lang, views=pairs, today=self.site.today())

    async def campaign(self, request: web.Request) -> web.Response:
        campaign = self.site.campaign(request)
        if campaign is None:
            return not_found(request)
        return await self.page(campaign, lang_of(request))

    async def page(
        self,
        campaign: Campaign,
        lang: str,
        *,
        status: int = 200,
        error: str = "",
        form: dict[str, str] | None = None,
    ) -> web.Response:
        """The campaign page; after a refused donation, with the error and what was typed
        (in the form it came from: the one-off or the monthly one)."""
        view = await self.site.view(campaign)
        form = form or {}
        monthly = bool(form.get("monthly"))
        highlight = campaign.highlight or (campaign.amounts[0] if campaign.amounts else None)
        default = "" if highlight is None else amount_argument(highlight, campaign.currency)
        offered = self.site.donations.offers_monthly(campaign)
        context: dict[str, Any] = {
            "view": view,
            "display": view.display(lang),
            "today": self.site.today(),
            "others": [reader(lang).money(n, cur) for cur, n in view.others()],
            "amounts": suggested(campaign, lang),
            "chosen": "" if form.get("custom") or monthly else form.get("amount", default),
            "custom": "" if monthly else form.get("custom", ""),
            "error": "" if monthly else error,
            "monthly_amounts": monthly_choices(campaign, lang) if offered else [],
            "monthly_chosen": form.get("amount", "") if monthly else "",
            "monthly_error": error if monthly else "",
            "articles": await self.site.articles(campaign),
        }
        return html("campaign.html", lang, status=status, **context)

    async def donate(self, request: web.Request) -> web.StreamResponse:
        """The form's POST: 303 to the payment page, or the page again with the error."""
        campaign = self.site.campaign(request)
        if campaign is None:
            return not_found(request)
        lang = lang_of(request)
        if not campaign.active:
            return await self.page(campaign, lang, status=409)
        client = self.site.client(request)
        if not self.site.limiter.allow(client):
            response = html("too_many.html", lang, status=429)
            response.headers["Retry-After"] = str(self.site.limiter.retry_after(client))
            return response
        posted = await request.post()
        fields = ("amount", "custom", "monthly")
        form = {k: v for k in fields if isinstance(v := posted.get(k), str)}
        words, monthly = reader(lang), bool(form.get("monthly"))
        amount: int | None
        try:
            if monthly:
                offered = self.site.donations.offers_monthly(campaign)
                amount = chosen_monthly(campaign, form, offered, words)
            else:
                amount = chosen_amount(campaign, form, words)
        except AmountError as exc:
            return await self.page(campaign, lang, status=400, error=exc.text(words), form=form)
        try:
            url = await self.site.donations.link(
                campaign,
                amount,
                request_key="outreach-web-" + secrets.token_hex(16),
                monthly=monthly,
            )
        except ProviderError as exc:
            status = 503 if exc.transient else 502
            return await self.page(campaign, lang, status=status, error=exc.text(words), form=form)
        log.info("made a %s payment page for campaign %s from the web", _kind(monthly), campaign.id)
        raise web.HTTPSeeOther(url)

    async def widget(self, request: web.Request) -> web.Response:
        campaign = self.site.campaign(request)
        if campaign is None:
            return not_found(request)
        lang = lang_of(request)
        view = await self.site.view(campaign)
        response = html(
            "widget.html",
            lang,
            view=view,
            display=view.display(lang),
            today=self.site.today(),
            page_url=f"{self.site.page_url(campaign)}?lang={lang}",
        )
        ancestors = " ".join(self.site.settings.embed_origins) or "'none'"
        response.headers["Content-Security-Policy"] = WIDGET_CSP.format(ancestors=ancestors)
        return response
