"""A feed's WebSub state in words, for /feeds."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.context import Context
from bot.i18n import Lang
from bot.storage import websub as ws


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe(sub: ws.Subscription | None, now: float, lang: Lang) -> str:
    """ "push: subscribed until 2025-05-01 12:00 UTC", "push: no hub", ..."""
    if sub is None:
        return lang.gettext("push: no hub")
    if sub.state == ws.SUBSCRIBED and sub.lease_until is not None and sub.lease_until <= now:
        return lang.gettext("push: the lease ended {when}", when=_when(sub.lease_until))
    if sub.state == ws.SUBSCRIBED:
        until = _when(sub.lease_until) if sub.lease_until is not None else "?"
        return lang.gettext("push: subscribed until {when}", when=until)
    if sub.state == ws.REQUESTED:
        return lang.gettext("push: waiting for the hub to verify")
    if sub.state == ws.DENIED:
        return lang.gettext("push: the hub denied it ({error})", error=sub.error or "")
    if sub.state == ws.FAILED:
        return lang.gettext("push: verification failed ({error})", error=sub.error or "")
    return lang.gettext("push: unsubscribing")


async def push_state(ctx: Context, feed: str) -> str:
    """The feed's push state, or that push needs `[web] public_url`."""
    if ctx.services.websub is None:
        return ctx.lang.gettext("push: off (no [web] public_url)")
    sub = await ws.get(ctx.services.db, feed)
    return describe(sub, ctx.services.clock(), ctx.lang)
