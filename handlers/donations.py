"""/donate and /progress for everyone; /record and /unrecord for admins.

Registered only when donations are configured (see `handlers.all_commands`), so no
handler here has to ask whether they are.

/donate never waits on the payment service until an amount is chosen: the
campaign and amount menus are built from the config alone.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime

from bot.audit import actor_of
from bot.chat import Block, Button, ChatKind, Incoming, Post, bold, link, para
from bot.context import CommandSpec, Context, Reply
from bot.donations import Donations, ProviderError, choice_key
from bot.donations.campaigns import Campaign
from bot.donations.card import render_card
from bot.donations.ledger import Unrecorded
from bot.donations.money import AmountError, amount_argument, format_amount, parse_amount
from bot.donations.render import page_block, progress_post
from bot.i18n import N_, Lang
from handlers.args import parse_id
from handlers.monthly import AMOUNTS_PER_ROW, buttons_in_rows, monthly_link, monthly_menu

log = logging.getLogger(__name__)

NO_CAMPAIGN = N_("No campaign is taking donations right now. Thank you for asking!")
SUGGESTED_ONLY = N_("This campaign takes the suggested amounts only.")


def campaign_menu(
    campaigns: list[Campaign], amount_text: str | None, lang: Lang, intro: str = ""
) -> Post:
    """Pick a campaign first (a typed amount is carried into each choice)."""
    suffix = f" {amount_text}" if amount_text else ""
    blocks: list[Block] = [para(intro)] if intro else []
    blocks.append(para(bold(lang.gettext("Which campaign would you like to support?"))))
    for c in campaigns:
        title, description = c.title_in(lang.code), c.description_in(lang.code)
        blocks.append(para(bold(title), f" — {description}") if description else para(bold(title)))
    buttons = [Button(c.title_in(lang.code), command=f"/donate {c.id}{suffix}") for c in campaigns]
    return Post(blocks=tuple(blocks), buttons=buttons_in_rows(buttons, 1))


def amount_buttons(
    campaign: Campaign, lang: Lang, *, monthly: bool = False
) -> tuple[tuple[Button, ...], ...]:
    """The suggested amounts (the highlighted one starred), then "Any amount", then
    "Monthly" when the campaign offers monthly giving."""
    amounts = []
    for minor in campaign.amounts:
        label = lang.money(minor, campaign.currency)
        if minor == campaign.highlight:
            label = "★ " + label
        arg = amount_argument(minor, campaign.currency)
        amounts.append(Button(label, command=f"/donate {campaign.id} {arg}"))
    rows = buttons_in_rows(amounts, AMOUNTS_PER_ROW)
    if campaign.custom_amount:
        any_amount = Button(lang.gettext("Any amount"), command=f"/donate {campaign.id} any")
        rows += ((any_amount,),)
    if monthly:
        # Translators: the button beside the one-off amounts that opens the monthly ones.
        monthly_button = Button(lang.gettext("Monthly"), command=f"/donate {campaign.id} monthly")
        rows += ((monthly_button,),)
    return rows


def _earmark(campaign: Campaign, lang: Lang) -> str:
    # The earmark is the treasurer's key and travels with the payment as written.
    return lang.gettext("Your gift is earmarked “{earmark}”.", earmark=campaign.earmark)


def amount_menu(
    campaign: Campaign, lang: Lang, public_url: str | None = None, *, monthly: bool = False
) -> Post:
    blocks: list[Block] = [para(bold(campaign.title_in(lang.code)))]
    description = campaign.description_in(lang.code)
    if description:
        blocks.append(para(description))
    blocks.append(para(_earmark(campaign, lang)))
    if campaign.custom_amount:
        blocks.append(
            para(
                lang.gettext(
                    "Choose an amount, or type /donate {campaign} AMOUNT.", campaign=campaign.id
                )
            )
        )
    else:
        blocks.append(para(lang.gettext("Choose an amount:")))
    blocks += page_block(public_url, campaign, lang)
    if monthly:
        blocks.append(
            para(lang.gettext("Or give monthly: /donate {campaign} monthly", campaign=campaign.id))
        )
    return Post(blocks=tuple(blocks), buttons=amount_buttons(campaign, lang, monthly=monthly))


def chosen_amount(campaign: Campaign, text: str, lang: Lang) -> int | None:
    """Minor units, or None for "any"; raises AmountError with a message for the person."""
    if text.lower() == "any":
        if not campaign.custom_amount:
            raise AmountError(SUGGESTED_ONLY)
        return None
    minor = parse_amount(text, campaign.currency, lang=lang)
    if not campaign.custom_amount and minor not in campaign.amounts:
        raise AmountError(SUGGESTED_ONLY)
    return minor


def link_post(
    campaign: Campaign,
    amount: int | None,
    url: str,
    lang: Lang,
    *,
    offer_notify: bool,
    note: str,
    public_url: str | None = None,
) -> Post:
    """The payment link, as a button and as text (for platforms without buttons)."""
    title = campaign.title_in(lang.code)
    if amount is None:
        thanks = lang.gettext(
            "Thank you! Here is your payment page for the amount you choose, to {campaign}.",
            campaign=title,
        )
        pay = lang.gettext("Donate")
    else:
        money = lang.money(amount, campaign.currency)
        thanks = lang.gettext(
            "Thank you! Here is your payment page for {amount} to {campaign}.",
            amount=money,
            campaign=title,
        )
        pay = lang.gettext("Donate {amount}", amount=money)
    blocks: list[Block] = [para(thanks), para(_earmark(campaign, lang)), para(link(url, url))]
    if note:
        blocks.append(para(note))
    blocks += page_block(public_url, campaign, lang)
    buttons: list[tuple[Button, ...]] = [(Button(pay, url=url),)]
    if offer_notify:
        arg = "any" if amount is None else amount_argument(amount, campaign.currency)
        command = f"/donate {campaign.id} {arg} notify"
        buttons.append((Button(lang.gettext("Tell me when it arrives"), command=command),))
    return Post(blocks=tuple(blocks), buttons=tuple(buttons))


def _looks_like_amount(text: str) -> bool:
    return text.lower() in ("any", "monthly") or any(ch.isdigit() for ch in text)


def public_url(ctx: Context) -> str | None:
    """Where the campaign pages are, for links in replies (None: not published)."""
    web = ctx.services.config.web
    return web.public_url if web.pages else None


def _notify_note(lang: Lang, *, notify: bool, confirms: bool, private: bool) -> str:
    if notify and not confirms:
        return lang.gettext(
            "This payment page does not tell me when a payment arrives, so I can't tell you."
        )
    if notify and not private:
        return lang.gettext("I can tell you when it arrives only in a private chat with me.")
    if notify:
        return lang.gettext(
            "I will message you here once when the payment arrives, then forget this chat."
        )
    return ""


async def _payment_link(
    incoming: Incoming, ctx: Context, d: Donations, campaign: Campaign, args: list[str]
) -> Post:
    lang = ctx.lang
    amount_text, rest = args[0], [a.lower() for a in args[1:]]
    monthly = d.offers_monthly(campaign)
    if amount_text.lower() == "monthly" and monthly and not rest:
        return monthly_menu(campaign, lang)
    if rest[:1] == ["monthly"] and monthly:
        return await monthly_link(incoming, lang, d, campaign, args)
    notify = rest == ["notify"]
    if rest and not notify:
        return Post.text(
            lang.gettext("Usage: /donate {campaign} AMOUNT (or any)", campaign=campaign.id)
        )
    try:
        amount = chosen_amount(campaign, amount_text, lang)
    except AmountError as exc:
        return Post(
            blocks=(para(exc.text(lang)),), buttons=amount_buttons(campaign, lang, monthly=monthly)
        )
    confirms = d.provider_for(campaign).confirms_payments
    private = incoming.chat.kind is ChatKind.PRIVATE
    note = _notify_note(lang, notify=notify, confirms=confirms, private=private)
    arg = "any" if amount is None else amount_argument(amount, campaign.currency)
    key = choice_key(incoming, f"{campaign.id} {arg}{' notify' if notify else ''}")
    try:
        url = await d.link(
            campaign,
            amount,
            request_key=key,
            notify_chat=incoming.chat if notify and private else None,
            # The thank-you is written later in the language this person reads now; the
            # link keeps it, and is forgotten with it.
            language=lang.code,
        )
    except ProviderError as exc:
        return Post.text(exc.text(lang))
    offer = confirms and private and not notify
    return link_post(
        campaign, amount, url, lang, offer_notify=offer, note=note, public_url=public_url(ctx)
    )


async def donate(incoming: Incoming, ctx: Context, d: Donations) -> Reply:
    """/donate [campaign] [amount|any]: menus first, the payment link once an amount is chosen."""
    lang = ctx.lang
    active = d.active_campaigns()
    if not active:
        return Post.text(lang.gettext(NO_CAMPAIGN))
    args = list(ctx.args)
    campaign: Campaign | None = None
    if args and args[0].lower() in d.campaigns:
        campaign = d.campaigns[args.pop(0).lower()]
        if not campaign.active:
            intro = lang.gettext(
                "{campaign} is not taking donations any more.",
                campaign=campaign.title_in(lang.code),
            )
            return campaign_menu(active, None, lang, intro)
    elif args and not _looks_like_amount(args[0]):
        intro = lang.gettext("I don't know the campaign “{campaign}”.", campaign=args[0])
        return campaign_menu(active, None, lang, intro)
    elif len(active) == 1:
        campaign = active[0]
    if campaign is None:
        return campaign_menu(active, args[0] if args else None, lang)
    if not args:
        return amount_menu(campaign, lang, public_url(ctx), monthly=d.offers_monthly(campaign))
    return await _payment_link(incoming, ctx, d, campaign, args)


async def progress(incoming: Incoming, ctx: Context, d: Donations) -> Reply:
    """/progress [campaign]: each campaign's total, bar and days left, with a card picture."""
    lang = ctx.lang
    if ctx.args:
        wanted = ctx.args[0].lower()
        if wanted not in d.campaigns:
            return Post.text(
                lang.gettext(
                    "I don't know the campaign “{campaign}”. Campaigns: {campaigns}.",
                    campaign=ctx.args[0],
                    campaigns=", ".join(d.campaigns),
                )
            )
        ids = [wanted]
    else:
        ids = [c.id for c in d.active_campaigns()]
        if not ids:
            return Post.text(lang.gettext("No campaign is running right now."))
    rows = await d.ledger.progress(ids)
    today = datetime.fromtimestamp(ctx.services.clock(), UTC).date()
    card = await asyncio.to_thread(render_card, rows, today, lang)
    return progress_post(rows, today, card, lang, public_url(ctx))


RECORD_USAGE = N_(
    "Usage: /record CAMPAIGN AMOUNT CURRENCY [note], e.g. /record russia 500 EUR bank transfer. "
    "Notes are kept in the ledger: no donor names, please."
)


async def record(incoming: Incoming, ctx: Context, d: Donations) -> Reply:
    """/record CAMPAIGN AMOUNT CURRENCY [note]: an offline gift (admins)."""
    lang = ctx.lang
    parts = ctx.arg_text.split(maxsplit=3)
    if len(parts) < 3:
        return Post.text(lang.gettext(RECORD_USAGE))
    campaign_id, amount_text, currency = parts[0].lower(), parts[1], parts[2].upper()
    note = parts[3].strip() if len(parts) > 3 else ""
    campaign = d.campaigns.get(campaign_id)
    if campaign is None:
        return Post.text(
            lang.gettext(
                "No campaign “{campaign}”. Campaigns: {campaigns}.",
                campaign=parts[0],
                campaigns=", ".join(d.campaigns),
            )
        )
    if not re.fullmatch(r"[A-Z]{3}", currency):
        return Post.text(
            lang.gettext("“{currency}” is not a currency code like USD or EUR.", currency=parts[2])
        )
    try:
        amount = parse_amount(amount_text, currency, payable=False)
    except AmountError as exc:
        return Post.text(exc.text(lang))
    entry_id = await d.ledger.record_gift(campaign.id, amount, currency, note)
    log.info("an admin recorded offline gift #%d", entry_id)
    await ctx.services.audit.record(
        actor_of(incoming.sender),
        "record",
        f"{format_amount(amount, currency)} to {campaign.id}",
        f"gift #{entry_id}",
    )
    return Post.text(
        lang.gettext(
            "Recorded gift #{id}: {amount} to {campaign}.",
            id=entry_id,
            amount=lang.money(amount, currency),
            campaign=campaign.title_in(lang.code),
        ),
        lang.gettext("Undo with /unrecord {id}.", id=entry_id),
    )


async def unrecord(incoming: Incoming, ctx: Context, d: Donations) -> Reply:
    """/unrecord ID: cancel an offline gift (admins); the ledger keeps both entries."""
    lang = ctx.lang
    entry_id = parse_id(ctx.args[0]) if len(ctx.args) == 1 else None
    if entry_id is None:
        return Post.text(lang.gettext("Usage: /unrecord ID (the number /record answered with)"))
    result = await d.ledger.unrecord(entry_id)
    await ctx.services.audit.record(
        actor_of(incoming.sender), "unrecord", f"#{entry_id}", result.outcome.name.lower()
    )
    if result.outcome is Unrecorded.NOT_FOUND or result.entry is None:
        return Post.text(lang.gettext("There is no ledger entry #{id}.", id=entry_id))
    entry = result.entry
    if result.outcome is Unrecorded.NOT_A_GIFT:
        return Post.text(
            lang.gettext(
                "#{id} is not an offline gift; only /record entries can be undone.", id=entry_id
            )
        )
    amount = lang.money(entry.amount, entry.currency)
    if result.outcome is Unrecorded.ALREADY:
        return Post.text(
            lang.gettext("Gift #{id} ({amount}) was already removed.", id=entry_id, amount=amount)
        )
    log.info("an admin removed offline gift #%d", entry_id)
    return Post.text(
        lang.gettext(
            "Removed gift #{id}: {amount} to {campaign}.",
            id=entry_id,
            amount=amount,
            campaign=entry.campaign,
        )
    )


class DonationCommands:
    """The donation commands, bound to the configured donations service."""

    def __init__(self, donations: Donations) -> None:
        self.donations = donations

    async def donate(self, incoming: Incoming, ctx: Context) -> Reply:
        return await donate(incoming, ctx, self.donations)

    async def progress(self, incoming: Incoming, ctx: Context) -> Reply:
        return await progress(incoming, ctx, self.donations)

    async def record(self, incoming: Incoming, ctx: Context) -> Reply:
        return await record(incoming, ctx, self.donations)

    async def unrecord(self, incoming: Incoming, ctx: Context) -> Reply:
        return await unrecord(incoming, ctx, self.donations)

    def specs(self) -> list[CommandSpec]:
        """/donate and /progress for everyone; /record and /unrecord for admins."""
        return [
            CommandSpec(
                "donate", self.donate, N_("give to a campaign"), N_("[campaign] [amount|any]")
            ),
            CommandSpec(
                "progress", self.progress, N_("how the campaigns are doing"), N_("[campaign]")
            ),
            CommandSpec(
                "record",
                self.record,
                N_("record an offline gift"),
                N_("CAMPAIGN AMOUNT CURRENCY [note]"),
                admin=True,
            ),
            CommandSpec("unrecord", self.unrecord, N_("undo a recorded gift"), "ID", admin=True),
        ]
