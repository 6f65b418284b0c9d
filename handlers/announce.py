"""Admin announcements (/announce, /confirm, /cancel) and the audit log (/audit)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.announcements import OptionError
from bot.announcements.targets import parse_options
from bot.audit import actor_of
from bot.chat import Button, Incoming, Post, bold, bullets, para
from bot.context import Context, Reply
from handlers.args import parse_id

USAGE = (
    "Usage: /announce [--to TARGET] [--at TIME] [--pin] TEXT — "
    "*bold*, _italic_, [text](https://link); TARGET: channels, subscribers, telegram, "
    "matrix, console, a channel name or topic:<topic> (repeatable); TIME: ISO, e.g. "
    "2026-12-01T18:00 (UTC unless it says otherwise)."
)


async def announce(incoming: Incoming, ctx: Context) -> Reply:
    if not ctx.arg_text:
        return Post.text(USAGE)
    now = datetime.fromtimestamp(ctx.services.clock(), UTC)
    try:
        options = parse_options(ctx.arg_text, now)
        draft = await ctx.services.announcements.draft(actor_of(incoming.sender), options)
    except OptionError as exc:
        return Post.text(f"{exc}.", USAGE)
    when = (
        "now"
        if draft.send_at is None
        else draft.send_at.astimezone(UTC).strftime("at %Y-%m-%d %H:%M UTC")
    )
    prompt = Post(
        blocks=(
            para(
                bold(f"Announcement #{draft.id}"),
                f" (preview above) goes to {draft.summary}, {when}"
                + (", pinned" if draft.post.pin else "")
                + ". Nothing is sent until you confirm.",
            ),
        ),
        buttons=(
            (
                Button("Confirm", command=f"/confirm {draft.id}"),
                Button("Cancel", command=f"/cancel {draft.id}"),
            ),
        ),
    )
    return (draft.post, prompt)


def _number(ctx: Context) -> int | None:
    return parse_id(ctx.args[0]) if len(ctx.args) == 1 else None


async def confirm(incoming: Incoming, ctx: Context) -> Reply:
    number = _number(ctx)
    if number is None:
        return Post.text("Usage: /confirm N (the number of the announcement)")
    announcements = ctx.services.announcements
    return Post.text(await announcements.confirm(number, actor_of(incoming.sender), incoming.chat))


async def cancel(incoming: Incoming, ctx: Context) -> Reply:
    number = _number(ctx)
    if number is None:
        return Post.text(f"Usage: /{ctx.command} N (the number of the announcement)")
    return Post.text(await ctx.services.announcements.cancel(number, actor_of(incoming.sender)))


async def audit(incoming: Incoming, ctx: Context) -> Reply:
    limit = (parse_id(ctx.args[0]) if ctx.args else None) or 10
    entries = await ctx.services.audit.latest(max(1, min(limit, 50)))
    if not entries:
        return Post.text("The audit log is empty.")
    lines = [
        f"#{e.id} {datetime.fromtimestamp(e.at, UTC):%Y-%m-%d %H:%M} {e.actor} "
        f"{e.action} {e.detail} → {e.result}"
        for e in entries
    ]
    return Post(blocks=(para(bold("Audit log, newest first")), bullets(*lines)))
