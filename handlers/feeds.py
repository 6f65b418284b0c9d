"""Admin views of the feeds: /feeds (status) and /feed_check URL (a preview, posts nothing)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.chat import Incoming, Paragraph, Post, Span, bold, para
from bot.context import Context, Reply
from bot.feeds.fetch import FetchError
from bot.feeds.parse import NotAFeed
from bot.feeds.render import render_article


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


async def feeds_status(incoming: Incoming, ctx: Context) -> Reply:
    statuses = await ctx.services.poller.status()
    if not statuses:
        return Post.text("No feeds are configured.")
    blocks: list[Paragraph] = []
    for name, row, posted in statuses:
        if row is None:
            blocks.append(para(bold(name), " — not polled yet"))
            continue
        status = f"failing ({row.failures} in a row): {row.last_error}" if row.failures else "ok"
        blocks.append(
            para(
                bold(name),
                Span(
                    f" — {status}; last poll {_when(row.last_poll_at)}, "
                    f"next poll {_when(row.next_poll_at)}; {posted} article(s) posted"
                ),
            )
        )
    return Post(blocks=tuple(blocks))


async def feed_check(incoming: Incoming, ctx: Context) -> Reply:
    if len(ctx.args) != 1:
        return Post.text("Usage: /feed_check URL")
    url = ctx.args[0]
    allow_private = any(f.allow_private for f in ctx.services.config.feeds)
    try:
        parsed = await ctx.services.poller.fetch_and_parse(url, allow_private=allow_private)
    except (FetchError, NotAFeed) as exc:
        return Post.text(f"Could not read {url}: {exc}")
    if not parsed.articles:
        return Post.text(f"{url} is a feed ({parsed.title or 'untitled'}) with no entries.")
    preview = render_article(parsed.articles[0], ctx.lang, feed_title=parsed.title)
    header = para(
        f"Preview of the newest of {len(parsed.articles)} entries in "
        f"{parsed.title or url} (nothing was posted):"
    )
    return Post(blocks=(header, *preview.blocks), image_url=preview.image_url, link_preview=False)
