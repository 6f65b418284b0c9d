"""/latest, /search and /related: the article archive in chat."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.archive import ArchivedArticle
from bot.chat import Incoming, Post, Span, bold, bullets, italic, link, para, span
from bot.context import Context, Reply
from bot.i18n import Lang

LATEST_DEFAULT = 5
LATEST_MAX = 10
TITLE_MAX = 120


def _date(ts: float, lang: Lang) -> str:
    return lang.date(datetime.fromtimestamp(ts, UTC).date())


def _title(article: ArchivedArticle) -> str:
    title = article.title or article.url
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1].rstrip() + "…"


def _line(article: ArchivedArticle, lang: Lang) -> tuple[Span, ...]:
    head = link(_title(article), article.url) if article.url else span(_title(article))
    return (head, span(" · " + _date(article.when, lang)))


def article_list(heading: str, articles: list[ArchivedArticle], lang: Lang) -> Post:
    return Post(blocks=(para(bold(heading)), bullets(*(_line(a, lang) for a in articles))))


async def latest(incoming: Incoming, ctx: Context) -> Reply:
    lang = ctx.lang
    archive = ctx.services.archive
    limit, topic = LATEST_DEFAULT, None
    for arg in ctx.args:
        if arg.isdigit():
            limit = max(1, min(LATEST_MAX, int(arg)))
        else:
            topic = arg
    if topic is not None and topic.casefold() not in archive.known_filters():
        topics = sorted(set(archive.topics_by_category.values()))
        if not topics:
            return Post.text(
                lang.gettext("I know no topic “{topic}”: there are none.", topic=topic)
            )
        return Post.text(
            lang.gettext(
                "I know no topic “{topic}”. Topics: {topics}.",
                topic=topic,
                topics=", ".join(topics),
            )
        )
    found = await archive.latest(limit, topic)
    if not found:
        if topic is None:
            return Post.text(lang.gettext("No articles yet."))
        return Post.text(lang.gettext("No articles on {topic} yet.", topic=topic))
    if topic:
        heading = lang.gettext("Latest articles on {topic}", topic=topic)
    else:
        heading = lang.gettext("Latest articles")
    return article_list(heading, found, lang)


async def search(incoming: Incoming, ctx: Context) -> Reply:
    lang = ctx.lang
    if not ctx.arg_text.strip():
        return Post.text(lang.gettext("Usage: /search words — for example /search protest"))
    found = await ctx.services.archive.search(ctx.arg_text)
    if not found:
        return Post.text(
            lang.gettext(
                "Nothing matches “{words}”. Send /latest to see the newest articles.",
                words=ctx.arg_text,
            )
        )
    items = []
    for a in found:
        head = link(_title(a), a.url) if a.url else span(_title(a))
        snippet = a.snippet.strip()
        items.append(
            (
                head,
                span(" · " + _date(a.when, lang)),
                *((italic(" — " + snippet),) if snippet else ()),
            )
        )
    heading = lang.gettext("Results for {words}", words=ctx.arg_text)
    return Post(blocks=(para(bold(heading)), bullets(*items)))


async def related(incoming: Incoming, ctx: Context) -> Reply:
    lang = ctx.lang
    if len(ctx.args) != 1 or not ctx.args[0].isdigit():
        return Post.text(
            lang.gettext("Usage: /related ARTICLE — the button under an article sends it.")
        )
    archive = ctx.services.archive
    article = await archive.get(int(ctx.args[0]))
    if article is None:
        return Post.text(lang.gettext("I don't know that article."))
    found = await archive.related(article.id)
    if not found:
        return Post.text(
            lang.gettext(
                "Nothing like “{title}” yet. Send /latest for the newest.", title=_title(article)
            )
        )
    return article_list(lang.gettext("More like “{title}”", title=_title(article)), found, lang)
