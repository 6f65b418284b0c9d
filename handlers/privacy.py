"""/mydata and /forgetme: what the bot keeps about the person asking, and erasing it."""

from __future__ import annotations

from bot.chat import Incoming, Post, bold, bullets, para
from bot.context import Context, Reply
from bot.i18n import Lang
from bot.storage.privacy import PersonalRecords
from handlers.language import own_name


def _subscription_line(chat_id: str, topics: tuple[str, ...], active: bool, lang: Lang) -> str:
    if topics:
        what = lang.gettext("articles on {topics}", topics=", ".join(topics))
    else:
        what = lang.gettext("every new article")
    if active:
        return lang.gettext("A subscription of chat {chat} to {what}.", chat=chat_id, what=what)
    return lang.gettext(
        "A subscription of chat {chat} to {what} (paused: this chat stopped accepting messages).",
        chat=chat_id,
        what=what,
    )


def _lines(records: PersonalRecords, lang: Lang) -> list[str]:
    lines = [_subscription_line(*sub, lang) for sub in records.subscriptions]
    if records.language:
        lines.append(
            lang.gettext(
                "Your language: {language} ({code}), chosen with /language.",
                language=own_name(records.language),
                code=records.language,
            )
        )
    if records.deliveries:
        states = ", ".join(f"{lang.number(n)} {s}" for s, n in sorted(records.deliveries.items()))
        lines.append(lang.gettext("Delivery records of messages to you: {states}.", states=states))
    if records.audit_entries:
        lines.append(
            lang.ngettext(
                "{n} audit log entry naming you as the actor.",
                "{n} audit log entries naming you as the actor.",
                records.audit_entries,
            )
        )
    if records.thank_links:
        lines.append(
            lang.ngettext(
                "{n} pending thank-you link: when your donation arrives, I send one thank-you "
                "message to this chat, then forget the link.",
                "{n} pending thank-you links: when your donations arrive, I send one thank-you "
                "message each to this chat, then forget the links.",
                records.thank_links,
            )
        )
    if records.announcements:
        lines.append(
            lang.ngettext(
                "{n} announcement you wrote.", "{n} announcements you wrote.", records.announcements
            )
        )
    return lines


async def mydata(incoming: Incoming, ctx: Context) -> Reply:
    lang = ctx.lang
    records = await ctx.services.privacy.records(incoming)
    lines = _lines(records, lang)
    if not lines:
        return Post.text(
            lang.gettext(
                "I keep nothing about you. (Donations are handled by the payment provider; "
                "I never store names, emails or card data.)"
            )
        )
    return Post(
        blocks=(
            para(bold(lang.gettext("Everything I keep about you"))),
            bullets(*lines),
            para(
                lang.gettext(
                    "Send /forgetme to delete it. I never store names, emails or card data."
                )
            ),
        )
    )


async def forgetme(incoming: Incoming, ctx: Context) -> Reply:
    await ctx.services.privacy.forget(incoming)
    # Their language choice is gone too: answer in what their app tells, or the default.
    lang = await ctx.services.people.lang_of(incoming.sender)
    return Post.text(
        lang.gettext(
            "Done: I deleted your subscriptions, your language choice, delivery records and "
            "pending thank-you links, and removed your name from the audit log. Send /subscribe "
            "if you want articles again."
        )
    )
