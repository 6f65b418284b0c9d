"""An `Article` as a platform-neutral `Post`.

Everything here is plain text inside Spans; the adapters escape it for
their platform, so feed markup can never reach a chat.
"""

from __future__ import annotations

from bot.chat.model import Paragraph, Post, Span, italic, link, para
from bot.feeds.article import Article
from bot.i18n import N_, Lang

READ_MORE = N_("Read more")
# Translators: the button under an article sent privately: articles on the same subject.
MORE_LIKE_THIS = N_("More like this")


def render_article(article: Article, lang: Lang, *, feed_title: str = "") -> Post:
    """The post announcing `article`: linked bold title, byline, summary, "Read more".

    Platforms show a link preview only when the article has no image of its own.
    """
    url = article.url or None
    blocks: list[Paragraph] = []
    if article.title:
        blocks.append(para(Span(article.title, bold=True, link=url)))
    byline = _byline(lang, article.author, feed_title)
    if byline:
        blocks.append(para(italic(byline)))
    # A summary that only repeats the title (commit feeds do this) adds nothing.
    if article.summary and _squash(article.summary) != _squash(article.title):
        blocks.extend(para(chunk) for chunk in article.summary.split("\n\n") if chunk.strip())
    if url:
        blocks.append(para(link(lang.gettext(READ_MORE), url)))
    return Post(
        blocks=tuple(blocks),
        image_url=article.image_url,
        link_preview=article.image_url is None,
    )


def _byline(lang: Lang, author: str, feed_title: str) -> str:
    if author and feed_title:
        return lang.gettext("by {author} · {feed}", author=author, feed=feed_title)
    if author:
        return lang.gettext("by {author}", author=author)
    return feed_title


def _squash(text: str) -> str:
    return " ".join(text.split()).casefold()
