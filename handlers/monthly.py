"""/donate CAMPAIGN monthly and /donate CAMPAIGN AMOUNT monthly: monthly giving.

Stripe has no customer-chosen recurring price, so a monthly gift is one of the
campaign's `monthly_amounts`; cancelling is Stripe's customer portal (`[stripe]
portal_url`), since the bot keeps no customer id.
"""

from __future__ import annotations

from bot.chat import Block, Button, ChatKind, Incoming, Post, bold, link, para
from bot.donations import Donations, ProviderError, choice_key
from bot.donations.campaigns import Campaign
from bot.donations.money import AmountError, amount_argument, parse_amount
from bot.donations.render import portal_sentence
from bot.i18n import Lang

AMOUNTS_PER_ROW = 4


def buttons_in_rows(buttons: list[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def monthly_menu(campaign: Campaign, lang: Lang) -> Post:
    """The monthly amounts, as buttons and as commands to type (platforms without buttons)."""
    choices = []
    buttons = []
    for minor in campaign.monthly_amounts:
        command = f"/donate {campaign.id} {amount_argument(minor, campaign.currency)} monthly"
        label = lang.gettext("{amount} a month", amount=lang.money(minor, campaign.currency))
        buttons.append(Button(label, command=command))
        choices.append(command)
    blocks: list[Block] = [
        para(bold(campaign.title_in(lang.code))),
        para(lang.gettext("Give every month, earmarked “{earmark}”.", earmark=campaign.earmark)),
        para(lang.gettext("Choose an amount: {choices}", choices=" · ".join(choices))),
    ]
    return Post(blocks=tuple(blocks), buttons=buttons_in_rows(buttons, AMOUNTS_PER_ROW))


async def monthly_link(
    incoming: Incoming, lang: Lang, d: Donations, campaign: Campaign, args: list[str]
) -> Post:
    """/donate CAMPAIGN AMOUNT monthly [notify]: a subscription's payment page."""
    amount_text, rest = args[0], [a.lower() for a in args[2:]]
    notify = rest == ["notify"]
    try:
        amount = parse_amount(amount_text, campaign.currency, lang=lang)
    except AmountError as exc:
        return Post(blocks=(para(exc.text(lang)),), buttons=monthly_menu(campaign, lang).buttons)
    if (rest and not notify) or amount not in campaign.monthly_amounts:
        return monthly_menu(campaign, lang)
    private = incoming.chat.kind is ChatKind.PRIVATE
    confirms = d.provider_for(campaign).confirms_payments
    arg = amount_argument(amount, campaign.currency)
    key = choice_key(incoming, f"{campaign.id} {arg} monthly{' notify' if notify else ''}")
    try:
        url = await d.link(
            campaign,
            amount,
            request_key=key,
            notify_chat=incoming.chat if notify and private and confirms else None,
            language=lang.code,
            monthly=True,
        )
    except ProviderError as exc:
        return Post.text(exc.text(lang))
    return monthly_link_post(campaign, amount, url, lang, d.portal_url)


def monthly_link_post(
    campaign: Campaign, amount: int, url: str, lang: Lang, portal_url: str
) -> Post:
    """A monthly gift's payment page, and where to change or cancel it later."""
    what = lang.gettext("{amount} a month", amount=lang.money(amount, campaign.currency))
    blocks: list[Block] = [
        para(
            lang.gettext(
                "Thank you! Here is your payment page for {amount} to {campaign}.",
                amount=what,
                campaign=campaign.title_in(lang.code),
            )
        ),
        para(lang.gettext("Your gift is earmarked “{earmark}”.", earmark=campaign.earmark)),
        para(link(url, url)),
    ]
    if portal_url:
        blocks.append(para(portal_sentence(lang, portal_url)))
    # Translators: the payment button of a monthly gift; {amount} is "$10 a month".
    pay = lang.gettext("Give {amount}", amount=what)
    return Post(blocks=tuple(blocks), buttons=((Button(pay, url=url),),))
