"""The HTML routes: the campaign list, a campaign's page and donate form, the widget."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from aiohttp import web

from bot.donations import ProviderError
from bot.donations.campaigns import Campaign
from bot.donations.money import AmountError, amount_argument, parse_amount
from bot.web.lang import reader
from bot.web.site import Site, html, lang_of, not_found
from bot.web.views import CampaignView

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


def chosen_amount(campaign: Campaign, form: dict[str, str], lang: str) -> int | None:
    """Minor units from the form (a typed amount wins over a suggested one).

    None means the donor chooses on the payment page; raises AmountError for the person.
    """
    _ = reader(lang).gettext
    if form.get("monthly"):
        raise AmountError(_("This campaign does not offer monthly gifts."))
    typed = form.get("custom", "").strip()
    text = typed or form.get("amount", "").strip()
    if not text:
        raise AmountError(_("Choose an amount, or type one."))
    if typed and not campaign.custom_amount:
        raise AmountError(_("This campaign takes the suggested amounts only."))
    minor = parse_amount(text, campaign.currency)
    if not typed and minor not in campaign.amounts:
        raise AmountError(_("Choose one of the suggested amounts."))
    return minor


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
        totals = await self.site.donations.ledger.totals()
        active = self.site.donations.active_campaigns()
        views = [CampaignView.of(c, totals.get(c.id, {})) for c in active]
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
        """The campaign page; after a refused donation, with the error and what was typed."""
        view = await self.site.view(campaign)
        form = form or {}
        highlight = campaign.highlight or (campaign.amounts[0] if campaign.amounts else None)
        default = "" if highlight is None else amount_argument(highlight, campaign.currency)
        context: dict[str, Any] = {
            "view": view,
            "display": view.display(lang),
            "today": self.site.today(),
            "others": [reader(lang).money(n, cur) for cur, n in view.others()],
            "amounts": suggested(campaign, lang),
            "chosen": form.get("amount", default) if not form.get("custom") else "",
            "custom": form.get("custom", ""),
            "error": error,
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
        try:
            amount = chosen_amount(campaign, form, lang)
        except AmountError as exc:
            return await self.page(campaign, lang, status=400, error=str(exc), form=form)
        try:
            url = await self.site.donations.link(
                campaign, amount, request_key="outreach-web-" + secrets.token_hex(16)
            )
        except ProviderError as exc:
            status = 503 if exc.transient else 502
            return await self.page(campaign, lang, status=status, error=str(exc), form=form)
        log.info("made a payment page for campaign %s from the web", campaign.id)
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
