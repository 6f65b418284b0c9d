"""Admin announcements (/announce, /confirm, /cancel) and the audit log (/audit)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from bot.announcements import OptionError
from bot.announcements.targets import describe, parse_options
from bot.audit import actor_of
from bot.chat import Button, Incoming, Post, bold, bullets, para, span
from bot.context import Context, Reply
from bot.i18n import N_, Lang
from handlers.args import parse_id

USAGE = N_(
    "Usage: /announce [--to TARGET] [--at TIME] [--pin] TEXT — "
    "*bold*, _italic_, [text](https://link); TARGET: channels, subscribers, telegram, "
    "matrix, console, a channel name or topic:<topic> (repeatable); TIME: ISO, e.g. "
    "2026-12-01T18:00 (UTC unless it says otherwise)."
)


def _prompt(lang: Lang, whom: str, send_at: datetime | None, pin: bool) -> str:
    """ "(preview above) goes to …, now. Nothing is sent until you confirm." (after the
    bold "Announcement #N"; whole sentences, so translators can order them)"""
    fields = {"whom": whom}
    if send_at is not None:
        fields["when"] = send_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        if pin:
            return lang.gettext(
                "(preview above) goes to {whom} at {when}, pinned. "
                "Nothing is sent until you confirm.",
                **fields,
            )
        return lang.gettext(
            "(preview above) goes to {whom} at {when}. Nothing is sent until you confirm.",
            **fields,
        )
    if pin:
        return lang.gettext(
            "(preview above) goes to {whom} now, pinned. Nothing is sent until you confirm.",
            **fields,
        )
    return lang.gettext(
        "(preview above) goes to {whom} now. Nothing is sent until you confirm.", **fields
    )


def _paid_note(lang: Lang, stars: float) -> str:
    """The preview's word that Telegram chats get it by paid broadcast, and its cost."""
    return lang.gettext(
        "Telegram chats get it by paid broadcast: about {stars} Stars for the messages "
        "above the free rate.",
        stars=lang.number(Decimal(str(stars))),
    )


async def announce(incoming: Incoming, ctx: Context) -> Reply:
    lang = ctx.lang
    if not ctx.arg_text:
        return Post.text(lang.gettext(USAGE))
    now = datetime.fromtimestamp(ctx.services.clock(), UTC)
    try:
        options = parse_options(ctx.arg_text, now)
        draft = await ctx.services.announcements.draft(actor_of(incoming.sender), options)
    except OptionError as exc:
        return Post.text(exc.text(lang) + ".", lang.gettext(USAGE))
    whom = describe(draft.targets, lang)
    telegram = sum(1 for t in draft.targets if t.platform == "telegram")
    paid = ctx.services.announcements.paid.planned(telegram)
    prompt = Post(
        blocks=(
            para(
                bold(lang.gettext("Announcement #{id}", id=draft.id)),
                span(" " + _prompt(lang, whom, draft.send_at, draft.post.pin)),
            ),
            *([para(_paid_note(lang, paid.stars))] if paid is not None else []),
        ),
        buttons=(
            (
                Button(lang.gettext("Confirm"), command=f"/confirm {draft.id}"),
                Button(lang.pgettext("button", "Cancel"), command=f"/cancel {draft.id}"),
            ),
        ),
    )
    return (draft.post, prompt)


def _number(ctx: Context) -> int | None:
    return parse_id(ctx.args[0]) if len(ctx.args) == 1 else None


def _usage(ctx: Context) -> Post:
    return Post.text(
        ctx.lang.gettext(
            "Usage: /{command} N (the number of the announcement)", command=ctx.command
        )
    )


async def confirm(incoming: Incoming, ctx: Context) -> Reply:
    number = _number(ctx)
    if number is None:
        return _usage(ctx)
    announcements = ctx.services.announcements
    return Post.text(
        await announcements.confirm(number, actor_of(incoming.sender), incoming.chat, ctx.lang)
    )


async def cancel(incoming: Incoming, ctx: Context) -> Reply:
    number = _number(ctx)
    if number is None:
        return _usage(ctx)
    announcements = ctx.services.announcements
    return Post.text(await announcements.cancel(number, actor_of(incoming.sender), ctx.lang))


async def audit(incoming: Incoming, ctx: Context) -> Reply:
    limit = (parse_id(ctx.args[0]) if ctx.args else None) or 10
    entries = await ctx.services.audit.latest(max(1, min(limit, 50)))
    if not entries:
        return Post.text(ctx.lang.gettext("The audit log is empty."))
    # The entries themselves are the log's record (English), like a log file.
    lines = [
        f"#{e.id} {datetime.fromtimestamp(e.at, UTC):%Y-%m-%d %H:%M} {e.actor} "
        f"{e.action} {e.detail} → {e.result}"
        for e in entries
    ]
    return Post(blocks=(para(bold(ctx.lang.gettext("Audit log, newest first"))), bullets(*lines)))
