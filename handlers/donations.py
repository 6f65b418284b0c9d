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
from handlers.args import parse_id

log = logging.getLogger(__name__)

NO_CAMPAIGN = Post.text("No campaign is taking donations right now. Thank you for asking!")
AMOUNTS_PER_ROW = 4


def _buttons_in_rows(buttons: list[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def campaign_menu(campaigns: list[Campaign], amount_text: str | None, intro: str = "") -> Post:
    """Pick a campaign first (a typed amount is carried into each choice)."""
    suffix = f" {amount_text}" if amount_text else ""
    blocks: list[Block] = [para(intro)] if intro else []
    blocks.append(para(bold("Which campaign would you like to support?")))
    blocks += [
        para(bold(c.title), f" — {c.description}") if c.description else para(bold(c.title))
        for c in campaigns
    ]
    buttons = [Button(c.title, command=f"/donate {c.id}{suffix}") for c in campaigns]
    return Post(blocks=tuple(blocks), buttons=_buttons_in_rows(buttons, 1))


def amount_buttons(campaign: Campaign) -> tuple[tuple[Button, ...], ...]:
    """The suggested amounts (the highlighted one starred), then "Any amount"."""
    amounts = []
    for minor in campaign.amounts:
        label = format_amount(minor, campaign.currency)
        if minor == campaign.highlight:
            label = "★ " + label
        arg = amount_argument(minor, campaign.currency)
        amounts.append(Button(label, command=f"/donate {campaign.id} {arg}"))
    rows = _buttons_in_rows(amounts, AMOUNTS_PER_ROW)
    if campaign.custom_amount:
        rows += ((Button("Any amount", command=f"/donate {campaign.id} any"),),)
    return rows


def amount_menu(campaign: Campaign, public_url: str | None = None) -> Post:
    blocks: list[Block] = [para(bold(campaign.title))]
    if campaign.description:
        blocks.append(para(campaign.description))
    blocks.append(para(f"Your gift is earmarked “{campaign.earmark}”."))
    if campaign.custom_amount:
        blocks.append(para(f"Choose an amount, or type /donate {campaign.id} AMOUNT."))
    else:
        blocks.append(para("Choose an amount:"))
    blocks += page_block(public_url, campaign)
    return Post(blocks=tuple(blocks), buttons=amount_buttons(campaign))


def chosen_amount(campaign: Campaign, text: str) -> int | None:
    """Minor units, or None for "any"; raises AmountError with a message for the person."""
    if text.lower() == "any":
        if not campaign.custom_amount:
            raise AmountError("This campaign takes the suggested amounts only.")
        return None
    minor = parse_amount(text, campaign.currency)
    if not campaign.custom_amount and minor not in campaign.amounts:
        raise AmountError("This campaign takes the suggested amounts only.")
    return minor


def link_post(
    campaign: Campaign,
    amount: int | None,
    url: str,
    *,
    offer_notify: bool,
    note: str,
    public_url: str | None = None,
) -> Post:
    """The payment link, as a button and as text (for platforms without buttons)."""
    what = "the amount you choose" if amount is None else format_amount(amount, campaign.currency)
    blocks: list[Block] = [
        para("Thank you! Here is your payment page for ", bold(what), f" to {campaign.title}."),
        para(f"Your gift is earmarked “{campaign.earmark}”."),
        para(link(url, url)),
    ]
    if note:
        blocks.append(para(note))
    blocks += page_block(public_url, campaign)
    pay = "Donate" if amount is None else f"Donate {what}"
    buttons: list[tuple[Button, ...]] = [(Button(pay, url=url),)]
    if offer_notify:
        arg = "any" if amount is None else amount_argument(amount, campaign.currency)
        command = f"/donate {campaign.id} {arg} notify"
        buttons.append((Button("Tell me when it arrives", command=command),))
    return Post(blocks=tuple(blocks), buttons=tuple(buttons))


def _looks_like_amount(text: str) -> bool:
    return text.lower() == "any" or any(ch.isdigit() for ch in text)


def public_url(ctx: Context) -> str | None:
    """Where the campaign pages are, for links in replies (None: not published)."""
    web = ctx.services.config.web
    return web.public_url if web.pages else None


async def _payment_link(
    incoming: Incoming, ctx: Context, d: Donations, campaign: Campaign, args: list[str]
) -> Post:
    amount_text, rest = args[0], [a.lower() for a in args[1:]]
    notify = rest == ["notify"]
    if rest and not notify:
        return Post.text(f"Usage: /donate {campaign.id} AMOUNT (or any)")
    try:
        amount = chosen_amount(campaign, amount_text)
    except AmountError as exc:
        return Post(blocks=(para(str(exc)),), buttons=amount_buttons(campaign))
    confirms = d.provider_for(campaign).confirms_payments
    private = incoming.chat.kind is ChatKind.PRIVATE
    note = ""
    if notify and not confirms:
        note = "This payment page does not tell me when a payment arrives, so I can't tell you."
    elif notify and not private:
        note = "I can tell you when it arrives only in a private chat with me."
    elif notify:
        note = "I will message you here once when the payment arrives, then forget this chat."
    arg = "any" if amount is None else amount_argument(amount, campaign.currency)
    key = choice_key(incoming, f"{campaign.id} {arg}{' notify' if notify else ''}")
    try:
        url = await d.link(
            campaign,
            amount,
            request_key=key,
            notify_chat=incoming.chat if notify and private else None,
        )
    except ProviderError as exc:
        return Post.text(str(exc))
    offer = confirms and private and not notify
    return link_post(
        campaign, amount, url, offer_notify=offer, note=note, public_url=public_url(ctx)
    )


async def donate(incoming: Incoming, ctx: Context, d: Donations) -> Reply:
    """/donate [campaign] [amount|any]: menus first, the payment link once an amount is chosen."""
    active = d.active_campaigns()
    if not active:
        return NO_CAMPAIGN
    args = list(ctx.args)
    campaign: Campaign | None = None
    if args and args[0].lower() in d.campaigns:
        campaign = d.campaigns[args.pop(0).lower()]
        if not campaign.active:
            intro = f"{campaign.title} is not taking donations any more."
            return campaign_menu(active, None, intro)
    elif args and not _looks_like_amount(args[0]):
        return campaign_menu(active, None, f"I don't know the campaign “{args[0]}”.")
    elif len(active) == 1:
        campaign = active[0]
    if campaign is None:
        return campaign_menu(active, args[0] if args else None)
    if not args:
        return amount_menu(campaign, public_url(ctx))
    return await _payment_link(incoming, ctx, d, campaign, args)


async def progress(incoming: Incoming, ctx: Context, d: Donations) -> Reply:
    """/progress [campaign]: each campaign's total, bar and days left, with a card picture."""
    if ctx.args:
        wanted = ctx.args[0].lower()
        if wanted not in d.campaigns:
            names = ", ".join(d.campaigns) or "none"
            return Post.text(f"I don't know the campaign “{ctx.args[0]}”. Campaigns: {names}.")
        ids = [wanted]
    else:
        ids = [c.id for c in d.active_campaigns()]
        if not ids:
            return Post.text("No campaign is running right now.")
    rows = await d.ledger.progress(ids)
    today = datetime.fromtimestamp(ctx.services.clock(), UTC).date()
    card = await asyncio.to_thread(render_card, rows, today)
    return progress_post(rows, today, card, public_url(ctx))


RECORD_USAGE = Post.text(
    "Usage: /record CAMPAIGN AMOUNT CURRENCY [note], e.g. /record russia 500 EUR bank transfer. "
    "Notes are kept in the ledger: no donor names, please."
)


async def record(incoming: Incoming, ctx: Context, d: Donations) -> Reply:
    """/record CAMPAIGN AMOUNT CURRENCY [note]: an offline gift (admins)."""
    parts = ctx.arg_text.split(maxsplit=3)
    if len(parts) < 3:
        return RECORD_USAGE
    campaign_id, amount_text, currency = parts[0].lower(), parts[1], parts[2].upper()
    note = parts[3].strip() if len(parts) > 3 else ""
    campaign = d.campaigns.get(campaign_id)
    if campaign is None:
        return Post.text(f"No campaign “{parts[0]}”. Campaigns: {', '.join(d.campaigns)}.")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        return Post.text(f"“{parts[2]}” is not a currency code like USD or EUR.")
    try:
        amount = parse_amount(amount_text, currency, payable=False)
    except AmountError as exc:
        return Post.text(str(exc))
    entry_id = await d.ledger.record_gift(campaign.id, amount, currency, note)
    log.info("an admin recorded offline gift #%d", entry_id)
    await ctx.services.audit.record(
        actor_of(incoming.sender),
        "record",
        f"{format_amount(amount, currency)} to {campaign.id}",
        f"gift #{entry_id}",
    )
    return Post.text(
        f"Recorded gift #{entry_id}: {format_amount(amount, currency)} to {campaign.title}.",
        f"Undo with /unrecord {entry_id}.",
    )


async def unrecord(incoming: Incoming, ctx: Context, d: Donations) -> Reply:
    """/unrecord ID: cancel an offline gift (admins); the ledger keeps both entries."""
    entry_id = parse_id(ctx.args[0]) if len(ctx.args) == 1 else None
    if entry_id is None:
        return Post.text("Usage: /unrecord ID (the number /record answered with)")
    result = await d.ledger.unrecord(entry_id)
    await ctx.services.audit.record(
        actor_of(incoming.sender), "unrecord", f"#{entry_id}", result.outcome.name.lower()
    )
    if result.outcome is Unrecorded.NOT_FOUND or result.entry is None:
        return Post.text(f"There is no ledger entry #{entry_id}.")
    entry = result.entry
    if result.outcome is Unrecorded.NOT_A_GIFT:
        return Post.text(f"#{entry_id} is not an offline gift; only /record entries can be undone.")
    amount = format_amount(entry.amount, entry.currency)
    if result.outcome is Unrecorded.ALREADY:
        return Post.text(f"Gift #{entry_id} ({amount}) was already removed.")
    log.info("an admin removed offline gift #%d", entry_id)
    return Post.text(f"Removed gift #{entry_id}: {amount} to {entry.campaign}.")


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
            CommandSpec("donate", self.donate, "give to a campaign", "[campaign] [amount|any]"),
            CommandSpec("progress", self.progress, "how the campaigns are doing", "[campaign]"),
            CommandSpec(
                "record",
                self.record,
                "record an offline gift",
                "CAMPAIGN AMOUNT CURRENCY [note]",
                admin=True,
            ),
            CommandSpec("unrecord", self.unrecord, "undo a recorded gift", "ID", admin=True),
        ]
