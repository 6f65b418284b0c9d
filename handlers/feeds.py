"""Admin views of the feeds: /feeds (status) and /feed_check URL (a preview, posts nothing)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.chat import Incoming, Paragraph, Post, Span, bold, para
from bot.context import Context, Reply
from bot.feeds.fetch import FetchError
from bot.feeds.parse import NotAFeed
from bot.feeds.render import render_article
from bot.i18n import Lang
from bot.storage.feeds import FeedRow
from handlers.push_state import push_state


def _when(ts: float | None, lang: Lang) -> str:
    if ts is None:
        return lang.gettext("never")
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _status_line(row: FeedRow, posted: int, lang: Lang) -> str:
    """ " — ok; last poll …, next poll …; 12 articles posted" """
    if row.failures:
        status = lang.ngettext(
            "failing ({n} time in a row): {error}",
            "failing ({n} times in a row): {error}",
            row.failures,
            error=row.last_error,
        )
    else:
        status = lang.gettext("ok")
    return " — " + lang.ngettext(
        "{status}; last poll {last}, next poll {next}; {n} article posted",
        "{status}; last poll {last}, next poll {next}; {n} articles posted",
        posted,
        status=status,
        last=_when(row.last_poll_at, lang),
        next=_when(row.next_poll_at, lang),
    )


async def feeds_status(incoming: Incoming, ctx: Context) -> Reply:
    lang = ctx.lang
    statuses = await ctx.services.poller.status()
    if not statuses:
        return Post.text(lang.gettext("No feeds are configured."))
    blocks: list[Paragraph] = []
    for name, row, posted in statuses:
        if row is None:
            blocks.append(para(bold(name), " — " + lang.gettext("not polled yet")))
            continue
        blocks.append(
            para(
                bold(name),
                Span(_status_line(row, posted, lang)),
                Span("; " + await push_state(ctx, name)),
            )
        )
    return Post(blocks=tuple(blocks))


async def feed_check(incoming: Incoming, ctx: Context) -> Reply:
    lang = ctx.lang
    if len(ctx.args) != 1:
        return Post.text(lang.gettext("Usage: /feed_check URL"))
    url = ctx.args[0]
    allow_private = any(f.allow_private for f in ctx.services.config.feeds)
    try:
        parsed = await ctx.services.poller.fetch_and_parse(url, allow_private=allow_private)
    except (FetchError, NotAFeed) as exc:
        # The reason is the fetcher's own (technical, English) wording.
        return Post.text(lang.gettext("Could not read {url}: {reason}", url=url, reason=exc))
    if not parsed.articles:
        if parsed.title:
            text = lang.gettext(
                "{url} is a feed ({title}) with no entries.", url=url, title=parsed.title
            )
        else:
            text = lang.gettext("{url} is a feed without a title and with no entries.", url=url)
        return Post.text(text)
    preview = render_article(parsed.articles[0], lang, feed_title=parsed.title)
    header = para(
        lang.ngettext(
            "Preview of the newest of {n} entry in {feed} (nothing was posted):",
            "Preview of the newest of {n} entries in {feed} (nothing was posted):",
            len(parsed.articles),
            feed=parsed.title or url,
        )
    )
    return Post(blocks=(header, *preview.blocks), image_url=preview.image_url, link_preview=False)
