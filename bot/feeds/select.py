"""What a feed's settings select and how an article becomes a stored record.

Pure functions of the poller (and of a WebSub push, which takes the same path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from bot.chat import Button, Paragraph, Post
from bot.feeds.article import Article
from bot.feeds.render import MORE_LIKE_THIS, READ_MORE
from bot.i18n import Lang, supported_languages
from bot.storage import feeds as fq


@dataclass(frozen=True, slots=True)
class FeedSettings:
    name: str
    url: str
    channels: tuple[str, ...] = ()
    interval: float = 600.0
    backfill: int = 1
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    topics: dict[str, str] = field(default_factory=dict)
    allow_private: bool = False
    edit_on_update: bool = False
    campaign: str | None = None  # every article carries this campaign's appeal
    interval_with_push: float = 3600.0  # the safety-net poll while a hub pushes


@dataclass(frozen=True, slots=True)
class PollResult:
    feed: str
    posted: int = 0
    edited: int = 0
    not_modified: bool = False
    error: str | None = None


def _words_match(words: tuple[str, ...], article: Article) -> bool:
    haystack = " ".join((article.title, *article.categories))
    return any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", haystack, re.IGNORECASE) for w in words)


def wanted(feed: FeedSettings, article: Article) -> bool:
    """The include/exclude keyword filters, on title and categories."""
    if feed.include and not _words_match(feed.include, article):
        return False
    return not (feed.exclude and _words_match(feed.exclude, article))


def article_topics(feed: FeedSettings, article: Article) -> set[str]:
    by_category = {c.casefold(): t for c, t in feed.topics.items()}
    return {by_category[c.casefold()] for c in article.categories if c.casefold() in by_category}


def with_related_button(post: Post, article_id: int, lang: Lang) -> Post:
    """The private-chat copy of an article post: a "More like this" button under it."""
    button = Button(lang.gettext(MORE_LIKE_THIS), command=f"/related {article_id}")
    return replace(post, buttons=(*post.buttons, (button,)))


def language_of_post(post: Post, default: Lang) -> Lang:
    """The language an article post was written in, told by its chrome ("Read more")."""
    labels = [b.label for row in post.buttons for b in row]
    labels += [s.text for block in post.blocks if isinstance(block, Paragraph) for s in block.spans]
    for code in supported_languages():
        lang = Lang.of(code)
        if lang.gettext(MORE_LIKE_THIS) in labels or lang.gettext(READ_MORE) in labels:
            return lang
    return default


def to_record(feed: str, a: Article) -> fq.ArticleRecord:
    return fq.ArticleRecord(
        feed=feed,
        key=a.key,
        canonical_url=a.canonical_url,
        url=a.url,
        title=a.title,
        author=a.author,
        summary=a.summary,
        image_url=a.image_url,
        categories=a.categories,
        published_at=a.published.timestamp() if a.published else None,
        content_hash=a.content_hash,
    )


def oldest_first(articles: tuple[Article, ...]) -> list[Article]:
    """Feeds list newest first; post in publication order so channels read in sequence."""
    indexed = list(enumerate(articles))
    indexed.sort(key=lambda p: (p[1].published.timestamp() if p[1].published else 0.0, -p[0]))
    return [a for _, a in indexed]
