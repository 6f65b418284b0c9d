"""/start with a deep-link payload: `donate-<campaign>`, `subscribe-<topic>`, `progress-<campaign>`.

A person who opens `https://t.me/<bot>?start=donate-russia` (the Donate button under
a channel post, or a link on the organisation's website) lands in a private chat
where Telegram sends `/start donate-russia`: they get the amounts straight away.
Any other payload, or one naming no campaign or topic, gets the normal welcome.
"""

from __future__ import annotations

from dataclasses import replace

from bot.appeals.links import DeepLink, read_payload
from bot.chat import ChatKind, Incoming
from bot.context import Context, Reply
from handlers import basic, donations, subscriptions


def _link(incoming: Incoming, ctx: Context) -> DeepLink | None:
    if incoming.chat.kind is not ChatKind.PRIVATE or len(ctx.args) != 1:
        return None
    return read_payload(ctx.args[0])


async def start(incoming: Incoming, ctx: Context) -> Reply:
    """/start [payload]: the welcome, or what the deep link asked for."""
    link = _link(incoming, ctx)
    if link is None:
        return await basic.start(incoming, ctx)
    asked = replace(ctx, args=(link.subject,), arg_text=link.subject)
    if link.action == "subscribe":
        if link.subject not in ctx.services.subscriptions.topics:
            return await basic.start(incoming, ctx)
        return await subscriptions.subscribe(incoming, replace(asked, command="subscribe"))
    d = ctx.services.donations
    if d is None or link.subject not in d.campaigns:
        return await basic.start(incoming, ctx)
    if link.action == "donate":
        return await donations.donate(incoming, replace(asked, command="donate"), d)
    return await donations.progress(incoming, replace(asked, command="progress"), d)
