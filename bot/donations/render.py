"""What the donations service says: progress lines, milestone posts, thank-yous, notices.

Every text takes the reader's `Lang`: words through the catalogues, money, percents,
counts and days left the reader's way.
"""

from __future__ import annotations

from datetime import date

from bot.chat import Block, Post, bold, link, para
from bot.donations.campaigns import Campaign, Progress, percent_shown, progress_bar
from bot.i18n import Lang


def progress_figures(p: Progress, today: date, lang: Lang) -> str:
    """ "$12,340 of $20,000 (62%) ▓▓▓▓▓▓░░░░ · 311 donations · 9 days left"."""
    c = p.campaign
    parts = [
        lang.gettext(
            "{raised} of {goal} ({percent}) {bar}",
            raised=lang.money(p.raised, c.currency),
            goal=lang.money(c.goal, c.currency),
            percent=lang.percent(percent_shown(p.raised, c.goal)),
            bar=progress_bar(p.raised, c.goal),
        ),
        lang.donations(p.donations),
    ]
    left = lang.deadline(c.deadline, today)
    if left:
        parts.append(left)
    return " · ".join(parts)


def other_currencies(p: Progress, lang: Lang) -> str:
    """ "Also received: €1,200 · £300" (never converted), or ""."""
    if not p.others:
        return ""
    amounts = " · ".join(lang.money(n, cur) for cur, n in p.others)
    return lang.gettext("Also received: {amounts}", amounts=amounts)


def support_title(campaign: Campaign, lang: Lang) -> str:
    """ "Support Russian anti-war protesters", with the title in the reader's language."""
    return lang.gettext("Support {campaign}", campaign=campaign.title_in(lang.code))


def progress_line(p: Progress, today: date, lang: Lang) -> str:
    """The one-line summary: "Support <title> — <figures>"."""
    return f"{support_title(p.campaign, lang)} — {progress_figures(p, today, lang)}"


def campaign_page_url(public_url: str | None, campaign: Campaign) -> str | None:
    """The campaign's web page under `[web] public_url`, or None when that is not set."""
    return f"{public_url.rstrip('/')}/campaigns/{campaign.id}" if public_url else None


def page_block(public_url: str | None, campaign: Campaign, lang: Lang) -> list[Block]:
    """ "Campaign page: <link>" when the web pages have a public address, else nothing."""
    url = campaign_page_url(public_url, campaign)
    return [para(lang.gettext("Campaign page:"), " ", link(url, url))] if url else []


def monthly_text(lang: Lang, supporters: int, amount: int, currency: str) -> str:
    """ "12 monthly supporters (≈ $180 a month)", or "" when none (chat and web pages)."""
    if not supporters:
        return ""
    return lang.ngettext(
        "{n} monthly supporter (≈ {amount} a month)",
        "{n} monthly supporters (≈ {amount} a month)",
        supporters,
        amount=lang.money(amount, currency),
    )


def monthly_line(lang: Lang, p: Progress) -> str:
    """A campaign's running monthly gifts in its own currency, or "" when none."""
    return monthly_text(lang, p.monthly_supporters, p.monthly_amount, p.campaign.currency)


def progress_post(
    progress: list[Progress],
    today: date,
    card_png: bytes | None,
    lang: Lang,
    public_url: str | None = None,
) -> Post:
    """The /progress reply: a paragraph per campaign (with its page link when the web pages
    have a public address, and its monthly supporters), plus the card picture where shown."""
    blocks: list[Block] = []
    for p in progress:
        blocks.append(
            para(bold(support_title(p.campaign, lang)), " — " + progress_figures(p, today, lang))
        )
        monthly = monthly_line(lang, p)
        if monthly:
            blocks.append(para(monthly))
        others = other_currencies(p, lang)
        if others:
            blocks.append(para(others))
        blocks += page_block(public_url, p.campaign, lang)
    blocks.append(para(lang.gettext("Give with /donate.")))
    return Post(blocks=tuple(blocks), image_png=card_png)


def milestone_post(campaign: Campaign, threshold: int, raised: int, lang: Lang) -> Post:
    """The channel announcement for a milestone (the highest one just passed)."""
    title = campaign.title_in(lang.code)
    figures = lang.gettext(
        "{raised} of {goal} raised. Thank you to everyone who gave.",
        raised=lang.money(raised, campaign.currency),
        goal=lang.money(campaign.goal, campaign.currency),
    )
    if threshold >= 100:
        headline = lang.gettext("🎉 {campaign}: the goal is reached!", campaign=title)
    else:
        headline = lang.gettext(
            "🎉 {campaign}: {percent} of the goal reached",
            campaign=title,
            percent=lang.percent(threshold),
        )
    return Post(
        blocks=(
            para(bold(headline)),
            para(figures),
            para(
                lang.gettext("To give, send /donate {campaign} to this bot.", campaign=campaign.id)
            ),
        )
    )


def thanks_post(campaign: Campaign | None, lang: Lang, *, portal_url: str = "") -> Post:
    """The one message for a donor who asked to be told when their payment arrived.

    No amount. Once it is sent (or has failed for good) the bot forgets the chat and the
    text (see docs/donations.md), which is what makes the last sentence true. A monthly
    gift's thank-you says where to change or cancel it.
    """
    if campaign is None:
        arrived = lang.gettext("Your donation has arrived. Thank you!")
    else:
        arrived = lang.gettext(
            "Your donation to {campaign} has arrived. Thank you!",
            campaign=campaign.title_in(lang.code),
        )
    paragraphs = [arrived]
    if portal_url:
        paragraphs.append(portal_sentence(lang, portal_url))
    paragraphs.append(lang.gettext("I no longer keep the link between this chat and your payment."))
    return Post.text(*paragraphs)


def portal_sentence(lang: Lang, portal_url: str) -> str:
    """Where a monthly donor changes or cancels their gift (Stripe's customer portal)."""
    return lang.gettext(
        "To change or cancel your monthly gift, sign in at {url} with the email you gave.",
        url=portal_url,
    )


def unassigned_notice(
    object_id: str, named: str | None, amount: int, currency: str, lang: Lang
) -> Post:
    """Tell admins a payment named no campaign we know (no donor data: just the object id)."""
    money = lang.money(amount, currency)
    if named:
        text = lang.gettext(
            "A payment of {amount} named the unknown campaign '{campaign}' (Stripe {object}). "
            "It is counted as unassigned.",
            amount=money, campaign=named, object=object_id,
        )  # fmt: skip
    else:
        text = lang.gettext(
            "A payment of {amount} named no campaign (Stripe {object}). "
            "It is counted as unassigned.",
            amount=money, object=object_id,
        )  # fmt: skip
    return Post.text(text)
