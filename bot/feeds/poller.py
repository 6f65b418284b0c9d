"""Polls the configured feeds and puts new articles in the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

from bot.chat import Button, Paragraph, Post
from bot.chat.codec import post_from_json
from bot.feeds.article import Article
from bot.feeds.fetch import FeedFetcher, FetchError, FetchState, NotModified
from bot.feeds.parse import NotAFeed, ParsedFeed, parse_feed
from bot.feeds.render import MORE_LIKE_THIS, READ_MORE, render_article
from bot.i18n import Lang, supported_languages
from bot.outbox import Item, Outbox
from bot.outbox.audience import Audience
from bot.storage import Database
from bot.storage import feeds as fq
from bot.storage import outbox as q

log = logging.getLogger(__name__)

FAILURES_BEFORE_NOTICE = 3
MAX_BACKOFF = 24 * 3600.0


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


class FeedPoller:
    """Owns the feed schedule: fetch, parse, dedup, enqueue, back off, tell the admins."""

    def __init__(
        self,
        db: Database,
        audience: Audience,
        outbox: Outbox,
        feeds: list[FeedSettings],
        *,
        user_agent: str,
        clock: Callable[[], float] = time.time,
        timeout: float = 20.0,
    ) -> None:
        self.db = db
        self.audience = audience
        self.outbox = outbox
        self.feeds = {f.name: f for f in feeds}
        self.clock = clock
        self.user_agent = user_agent
        self._fetchers = {
            allow: FeedFetcher(user_agent=user_agent, allow_private=allow, timeout=timeout)
            for allow in (False, True)
        }

    async def __aenter__(self) -> FeedPoller:
        for fetcher in self._fetchers.values():
            await fetcher.start()
        now = self.clock()
        for feed in self.feeds.values():
            await fq.sync_feed(self.db, feed.name, feed.url, now)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for fetcher in self._fetchers.values():
            await fetcher.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll each feed when it is due until `stop` is set."""
        while not stop.is_set():
            next_due = await self.poll_due()
            delay = max(1.0, next_due - self.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

    async def poll_due(self) -> float:
        """Poll every due feed; return when the next one is due."""
        next_due = self.clock() + 3600.0
        for feed in self.feeds.values():
            row = await fq.get_feed(self.db, feed.name)
            if row is not None and row.next_poll_at <= self.clock():
                await self.poll(feed)
                row = await fq.get_feed(self.db, feed.name)
            if row is not None:
                next_due = min(next_due, row.next_poll_at)
        return next_due

    async def status(self) -> list[tuple[str, fq.FeedRow | None, int]]:
        """Each configured feed's stored state and how many articles it has posted."""
        counts = await fq.posted_counts(self.db)
        return [
            (name, await fq.get_feed(self.db, name), counts.get(name, 0)) for name in self.feeds
        ]

    async def poll_all(self) -> list[PollResult]:
        return [await self.poll(feed) for feed in self.feeds.values()]

    async def fetch_and_parse(self, url: str, *, allow_private: bool) -> ParsedFeed:
        """Fetch and parse one URL now, ignoring stored state (for /feed_check)."""
        # A fetcher of its own: an admin's check must not depend on the poll loop running.
        async with FeedFetcher(user_agent=self.user_agent, allow_private=allow_private) as fetcher:
            result = await fetcher.fetch(FetchState(url))
        assert not isinstance(result, NotModified)
        return await asyncio.to_thread(
            parse_feed, result.body, url=result.final_url, content_type=result.content_type
        )

    def _next_poll(self, feed: FeedSettings) -> float:
        return self.clock() + feed.interval * random.uniform(0.9, 1.1)

    async def poll(self, feed: FeedSettings) -> PollResult:
        """Poll one feed once; never raises for a feed's own problems."""
        row = await fq.get_feed(self.db, feed.name)
        assert row is not None, "poller used before __aenter__"
        fetcher = self._fetchers[feed.allow_private]
        try:
            result = await fetcher.fetch(FetchState(row.url, row.etag, row.last_modified))
            if result.permanent_redirect:
                log.info("feed %s moved permanently to %s", feed.name, result.permanent_redirect)
            new_url = result.permanent_redirect or row.url
            if isinstance(result, NotModified):
                await fq.record_not_modified(
                    self.db,
                    feed.name,
                    now=self.clock(),
                    next_poll_at=self._next_poll(feed),
                    url=new_url,
                )
                await self._recovered(feed, row)
                return PollResult(feed.name, not_modified=True)
            seen = await fq.seen_articles(self.db, feed.name)
            # Known entries need no normalising unless edits are followed.
            skip = frozenset() if feed.edit_on_update else seen.keys()
            parsed = await asyncio.to_thread(
                partial(parse_feed, skip_keys=skip),
                result.body,
                url=result.final_url,
                content_type=result.content_type,
            )
        except (FetchError, NotAFeed) as exc:
            return await self._failed(feed, row, exc)
        posted, edited = await self._take(feed, row, parsed, seen)
        await fq.record_success(
            self.db,
            feed.name,
            now=self.clock(),
            next_poll_at=self._next_poll(feed),
            url=new_url,
            etag=result.etag,
            last_modified=result.last_modified,
        )
        await self._recovered(feed, row)
        log.info("feed %s: %d new, %d edited", feed.name, posted, edited)
        return PollResult(feed.name, posted=posted, edited=edited)

    async def _failed(
        self, feed: FeedSettings, row: fq.FeedRow, exc: FetchError | NotAFeed
    ) -> PollResult:
        failures = row.failures + 1
        delay = min(MAX_BACKOFF, feed.interval * 2 ** (failures - 1))
        retry_after = exc.retry_after if isinstance(exc, FetchError) else None
        if retry_after:
            delay = max(delay, min(retry_after, MAX_BACKOFF))
        notify = failures >= FAILURES_BEFORE_NOTICE and not row.failure_notified
        log.warning("feed %s failed (%d in a row): %s", feed.name, failures, exc)
        await fq.record_failure(
            self.db,
            feed.name,
            now=self.clock(),
            next_poll_at=self.clock() + delay,
            error=str(exc),
            notified=row.failure_notified or notify,
        )
        if notify:
            await self.audience.notify_admins(
                lambda lang: Post.text(
                    lang.ngettext(
                        "Feed '{feed}' has failed {n} time in a row: {error}",
                        "Feed '{feed}' has failed {n} times in a row: {error}",
                        failures,
                        feed=feed.name,
                        error=exc,
                    )
                )
            )
        return PollResult(feed.name, error=str(exc))

    async def _recovered(self, feed: FeedSettings, row: fq.FeedRow) -> None:
        if row.failure_notified:
            log.info("feed %s recovered", feed.name)
            await self.audience.notify_admins(
                lambda lang: Post.text(lang.gettext("Feed '{feed}' works again.", feed=feed.name))
            )

    async def _take(
        self,
        feed: FeedSettings,
        row: fq.FeedRow,
        parsed: ParsedFeed,
        seen: dict[str, fq.SeenArticle],
    ) -> tuple[int, int]:
        """Record every unseen entry; post the new ones (only `backfill` on a first poll)."""
        first_poll = row.first_polled_at is None
        fresh = [a for a in oldest_first(parsed.articles) if a.key not in seen]
        to_post = [a for a in fresh if wanted(feed, a)]
        if first_poll:
            to_post = to_post[-feed.backfill :] if feed.backfill else []
        post_keys = {
            a.key for a in to_post if not await fq.canonical_posted(self.db, a.canonical_url)
        }
        await self._record(feed, parsed, fresh, post_keys)
        edited = 0
        if feed.edit_on_update:
            for article in parsed.articles:
                known = seen.get(article.key)
                if known and known.posted and known.content_hash != article.content_hash:
                    edited += await self._edit(feed, parsed, known.id, article)
        return len(post_keys), edited

    async def _record(
        self, feed: FeedSettings, parsed: ParsedFeed, fresh: list[Article], post_keys: set[str]
    ) -> None:
        """One transaction for a poll: every new entry, and an outbox item per posted one."""
        channels: list[q.Target] = []
        pool: list[fq.Subscriber] = []
        if post_keys:
            channels = await self.audience.channel_targets(feed.channels)
            pool = await self.audience.subscriber_pool()
        everyone = [q.Target(s.platform, s.chat_id, "private", "subscriber") for s in pool]
        reads = await self.audience.people.languages(channels + everyone)
        now = self.clock()
        async with self.db.transaction() as tx:
            await fq.insert_seen_articles(
                tx, [to_record(feed.name, a) for a in fresh if a.key not in post_keys], now
            )
            for article in (a for a in fresh if a.key in post_keys):
                record = to_record(feed.name, article)
                article_id = await fq.insert_article(tx, record, posted=True, now=now)
                topics = article_topics(feed, article)
                subscribers = self.audience.subscribers_among(pool, topics)
                # A post per language; private copies carry "More like this", channel posts
                # stay clean.
                for lang, targets, private in [
                    *((lang, group, False) for lang, group in reads.group(channels)),
                    *((lang, group, True) for lang, group in reads.group(subscribers)),
                ]:
                    body = render_article(article, lang, feed_title=parsed.title)
                    if private:
                        body = with_related_button(body, article_id, lang)
                    await self.outbox.enqueue(tx, Item("article", body, str(article_id)), targets)

    async def _edit(
        self, feed: FeedSettings, parsed: ParsedFeed, article_id: int, article: Article
    ) -> int:
        items = await fq.article_items(self.db, article_id)
        default = self.audience.people.default_lang
        async with self.db.transaction() as tx:
            await fq.update_article_content(tx, article_id, to_record(feed.name, article))
            edits = 0
            for item_id, post_json in items:
                old = post_from_json(post_json)
                lang = language_of_post(old, default)
                body = render_article(article, lang, feed_title=parsed.title)
                if old.buttons:
                    body = with_related_button(body, article_id, lang)
                edits += await self.outbox.enqueue_edit(tx, item_id, body)
        return int(edits > 0)
