"""/mydata and /forgetme: what the bot keeps about the person asking, and erasing it."""

from __future__ import annotations

from bot.chat import Incoming, Post, bold, bullets, para
from bot.context import Context, Reply


async def mydata(incoming: Incoming, ctx: Context) -> Reply:
    records = await ctx.services.privacy.records(incoming)
    lines: list[str] = []
    for chat_id, topics, active in records.subscriptions:
        what = "every new article" if not topics else "articles on " + ", ".join(topics)
        state = "" if active else " (paused: this chat stopped accepting messages)"
        lines.append(f"A subscription of chat {chat_id} to {what}{state}.")
    if records.deliveries:
        states = ", ".join(f"{n} {s}" for s, n in sorted(records.deliveries.items()))
        lines.append(f"Delivery records of messages to you: {states}.")
    if records.audit_entries:
        lines.append(f"{records.audit_entries} audit log entries naming you as the actor.")
    if records.thank_links:
        lines.append(
            f"{records.thank_links} pending thank-you link(s): when your donation arrives, I "
            "send one thank-you message to this chat, then forget the link."
        )
    if records.announcements:
        lines.append(f"{records.announcements} announcements you wrote.")
    if not lines:
        return Post.text(
            "I keep nothing about you. (Donations are handled by the payment provider; "
            "I never store names, emails or card data.)"
        )
    return Post(
        blocks=(
            para(bold("Everything I keep about you")),
            bullets(*lines),
            para("Send /forgetme to delete it. I never store names, emails or card data."),
        )
    )


async def forgetme(incoming: Incoming, ctx: Context) -> Reply:
    await ctx.services.privacy.forget(incoming)
    return Post.text(
        "Done: I deleted your subscriptions, delivery records and pending thank-you links, "
        "and removed your name from the audit log. Send /subscribe if you want articles again."
    )
