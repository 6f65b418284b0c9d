"""What the donations service says: progress lines, milestone posts, thank-yous, notices."""

from __future__ import annotations

from datetime import date

from bot.chat import Block, Post, bold, link, para
from bot.donations.campaigns import (
    Campaign,
    Progress,
    days_left,
    percent_shown,
    progress_bar,
)
from bot.donations.money import format_amount


def donations_count(n: int) -> str:
    return "1 donation" if n == 1 else f"{n:,} donations"


def progress_figures(p: Progress, today: date) -> str:
    """ "$12,340 of $20,000 (62%) ▓▓▓▓▓▓░░░░ · 311 donations · 9 days left"."""
    c = p.campaign
    parts = [
        f"{format_amount(p.raised, c.currency)} of {format_amount(c.goal, c.currency)} "
        f"({percent_shown(p.raised, c.goal)}%) {progress_bar(p.raised, c.goal)}",
        donations_count(p.donations),
    ]
    left = days_left(c.deadline, today)
    if left:
        parts.append(left)
    return " · ".join(parts)


def other_currencies(p: Progress) -> str:
    """ "Also received: €1,200 · £300" (never converted), or ""."""
    if not p.others:
        return ""
    return "Also received: " + " · ".join(format_amount(n, cur) for cur, n in p.others)


def progress_line(p: Progress, today: date) -> str:
    """The one-line summary: "Support <title> — <figures>"."""
    return f"Support {p.campaign.title} — {progress_figures(p, today)}"


def campaign_page_url(public_url: str | None, campaign: Campaign) -> str | None:
    """The campaign's web page under `[web] public_url`, or None when that is not set."""
    return f"{public_url.rstrip('/')}/campaigns/{campaign.id}" if public_url else None


def page_block(public_url: str | None, campaign: Campaign) -> list[Block]:
    """ "Campaign page: <link>" when the web pages have a public address, else nothing."""
    url = campaign_page_url(public_url, campaign)
    return [para("Campaign page: ", link(url, url))] if url else []


def progress_post(
    progress: list[Progress], today: date, card_png: bytes | None, public_url: str | None = None
) -> Post:
    """The /progress reply: a paragraph per campaign (with its page link when the web pages
    have a public address), plus the card picture where shown."""
    blocks: list[Block] = []
    for p in progress:
        blocks.append(para(bold(f"Support {p.campaign.title}"), " — " + progress_figures(p, today)))
        others = other_currencies(p)
        if others:
            blocks.append(para(others))
        blocks += page_block(public_url, p.campaign)
    blocks.append(para("Give with /donate."))
    return Post(blocks=tuple(blocks), image_png=card_png)


def milestone_post(campaign: Campaign, threshold: int, raised: int) -> Post:
    """The channel announcement for a milestone (the highest one just passed)."""
    figures = (
        f"{format_amount(raised, campaign.currency)} of "
        f"{format_amount(campaign.goal, campaign.currency)} raised"
    )
    if threshold >= 100:
        headline = f"🎉 {campaign.title}: the goal is reached!"
    else:
        headline = f"🎉 {campaign.title}: {threshold}% of the goal reached"
    return Post(
        blocks=(
            para(bold(headline)),
            para(f"{figures}. Thank you to everyone who gave."),
            para(f"To give, send /donate {campaign.id} to this bot."),
        )
    )


def thanks_post(campaign: Campaign | None) -> Post:
    """The one message for a donor who asked to be told when their payment arrived.

    No amount: the delivered message stays in the outbox's records, and should say
    as little as possible about the payment.
    """
    where = f" to {campaign.title}" if campaign else ""
    return Post.text(
        f"Your donation{where} has arrived. Thank you!",
        "I no longer keep the link between this chat and your payment.",
    )


def unassigned_notice(object_id: str, named: str | None, amount: int, currency: str) -> Post:
    """Tell admins a payment named no campaign we know (no donor data: just the object id)."""
    which = f"the unknown campaign {named!r}" if named else "no campaign"
    return Post.text(
        f"A payment of {format_amount(amount, currency)} named {which} "
        f"(Stripe {object_id}). It is counted as unassigned."
    )
