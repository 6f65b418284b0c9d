"""/latest, /search and /related: the article archive in chat."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.archive import ArchivedArticle
from bot.chat import Incoming, Post, Span, bold, bullets, italic, link, para, span
from bot.context import Context, Reply

LATEST_DEFAULT = 5
LATEST_MAX = 10
TITLE_MAX = 120


def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%d %b %Y")


def _title(article: ArchivedArticle) -> str:
    title = article.title or article.url
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1].rstrip() + "…"


def _line(article: ArchivedArticle) -> tuple[Span, ...]:
    head = link(_title(article), article.url) if article.url else span(_title(article))
    return (head, span(" · " + _date(article.when)))


def article_list(heading: str, articles: list[ArchivedArticle]) -> Post:
    return Post(blocks=(para(bold(heading)), bullets(*(_line(a) for a in articles))))


async def latest(incoming: Incoming, ctx: Context) -> Reply:
    archive = ctx.services.archive
    limit, topic = LATEST_DEFAULT, None
    for arg in ctx.args:
        if arg.isdigit():
            limit = max(1, min(LATEST_MAX, int(arg)))
        else:
            topic = arg
    if topic is not None and topic.casefold() not in archive.known_filters():
        choices = ", ".join(sorted(set(archive.topics_by_category.values()))) or "none"
        return Post.text(f"I know no topic {topic!r}. Topics: {choices}.")
    found = await archive.latest(limit, topic)
    if not found:
        return Post.text("No articles yet." if topic is None else f"No articles on {topic} yet.")
    heading = "Latest articles" + (f" on {topic}" if topic else "")
    return article_list(heading, found)


async def search(incoming: Incoming, ctx: Context) -> Reply:
    if not ctx.arg_text.strip():
        return Post.text("Usage: /search words — for example /search protest")
    found = await ctx.services.archive.search(ctx.arg_text)
    if not found:
        return Post.text(
            f"Nothing matches {ctx.arg_text!r}. Send /latest to see the newest articles."
        )
    items = []
    for a in found:
        head = link(_title(a), a.url) if a.url else span(_title(a))
        snippet = a.snippet.strip()
        items.append(
            (head, span(" · " + _date(a.when)), *((italic(" — " + snippet),) if snippet else ()))
        )
    return Post(blocks=(para(bold(f"Results for {ctx.arg_text}")), bullets(*items)))


async def related(incoming: Incoming, ctx: Context) -> Reply:
    if len(ctx.args) != 1 or not ctx.args[0].isdigit():
        return Post.text("Usage: /related ARTICLE — the button under an article sends it.")
    archive = ctx.services.archive
    article = await archive.get(int(ctx.args[0]))
    if article is None:
        return Post.text("I don't know that article.")
    found = await archive.related(article.id)
    if not found:
        return Post.text(f"Nothing like {_title(article)!r} yet. Send /latest for the newest.")
    return article_list(f"More like “{_title(article)}”", found)
