"""Admin views of the configured channels: /channels (state, last post) and /resume NAME."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.audit import actor_of
from bot.chat import Incoming, Paragraph, Post, bold, para
from bot.context import Context, Reply
from bot.i18n import Lang
from bot.storage import feeds as fq
from bot.storage import outbox as q


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _when(lang: Lang, ts: float | None) -> str:
    return lang.pgettext("last post", "never") if ts is None else _utc(ts)


def _state(lang: Lang, state: fq.ChannelState | None) -> str:
    if state is None:
        return lang.pgettext("channel state", "posting")
    if state.state == fq.PAUSED:
        return lang.gettext("paused since {when}: {reason}", when=_utc(state.since),
                            reason=state.reason)  # fmt: skip
    return lang.gettext("gone since {when}: {reason}", when=_utc(state.since), reason=state.reason)


async def channels(incoming: Incoming, ctx: Context) -> Reply:
    """Each configured channel: posting, paused or gone, when it last got a post, and
    how many posts wait for it."""
    lang, db = ctx.lang, ctx.services.db
    names = list(ctx.services.audience.channels)
    if not names:
        return Post.text(lang.gettext("No channels are configured."))
    states = await fq.channel_states(db)
    activity = await q.channel_activity(db)
    blocks: list[Paragraph] = []
    for name in names:
        spec = ctx.services.audience.channels[name]
        seen = activity.get(f"channel:{name}", q.ChannelActivity(None, 0))
        line = lang.gettext(
            "({platform}): {state}; last post: {last}",
            platform=spec.platform, state=_state(lang, states.get(name)),
            last=_when(lang, seen.last_sent_at),
        )  # fmt: skip
        waiting = lang.ngettext("{n} post waiting", "{n} posts waiting", seen.pending)
        blocks.append(para(bold(name), f" {line}; {waiting}"))
    return Post(blocks=tuple(blocks))


async def resume(incoming: Incoming, ctx: Context) -> Reply:
    """Clear a channel's pause (or gone mark) by hand, e.g. once its rights are back."""
    lang, audience = ctx.lang, ctx.services.audience
    if len(ctx.args) != 1:
        return Post.text(lang.gettext("Usage: /resume NAME (see /channels)"))
    name = ctx.args[0]
    if name not in audience.channels:
        return Post.text(lang.gettext("There is no channel named {name}.", name=name))
    was_stopped = await audience.resume(name)
    result = "resumed" if was_stopped else "was posting"
    await ctx.services.audit.record(actor_of(incoming.sender), "resume", name, result)
    if not was_stopped:
        return Post.text(lang.gettext("Channel {name} was not paused.", name=name))
    return Post.text(lang.gettext("Channel {name} resumed: waiting posts go out now.", name=name))
