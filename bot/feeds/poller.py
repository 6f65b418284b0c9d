"""Polls the configured feeds and puts new articles in the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Protocol

from bot.appeals.matching import CampaignMatcher
from bot.chat import Appeal, Post
from bot.chat.codec import post_from_json
from bot.feeds.article import Article
from bot.feeds.fetch import FeedFetcher, FetchError, FetchState, NotModified
from bot.feeds.parse import NotAFeed, ParsedFeed, parse_feed
from bot.feeds.render import render_article
from bot.feeds.select import (
    FeedSettings,
    PollResult,
    article_topics,
    language_of_post,
    oldest_first,
    to_record,
    wanted,
    with_related_button,
)
from bot.i18n import Lang
from bot.outbox import Item, Outbox
from bot.outbox.audience import Audience
from bot.storage import Database, Tx
from bot.storage import feeds as fq
from bot.storage import outbox as q

log = logging.getLogger(__name__)

FAILURES_BEFORE_NOTICE = 3
MAX_BACKOFF = 24 * 3600.0

__all__ = ["FeedPoller", "FeedSettings", "PollResult", "PushSubscriptions", "with_related_button"]


class PushSubscriptions(Protocol):
    """WebSub as the poller sees it (`bot.feeds.websub.WebSub`)."""

    async def pushing(self, feed: str) -> bool:
        """Whether a hub pushes this feed's new articles now (a verified, unexpired lease)."""
        ...

    async def discovered(self, feed: str, hub: str, topic: str, *, allow_private: bool) -> None:
        """A poll found the feed's hub and topic: subscribe there unless already done."""
        ...


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
        appeals: CampaignMatcher | None = None,
        push: PushSubscriptions | None = None,
    ) -> None:
        self.db = db
        self.appeals = appeals
        self.push = push
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
        rows = await fq.all_feeds(self.db)
        return [await self.poll(feed, rows.get(feed.name)) for feed in self.feeds.values()]

    async def fetch_and_parse(self, url: str, *, allow_private: bool) -> ParsedFeed:
        """Fetch and parse one URL now, ignoring stored state (for /feed_check)."""
        # A fetcher of its own: an admin's check must not depend on the poll loop running.
        async with FeedFetcher(user_agent=self.user_agent, allow_private=allow_private) as fetcher:
            result = await fetcher.fetch(FetchState(url))
        assert not isinstance(result, NotModified)
        return await asyncio.to_thread(
            parse_feed, result.body, url=result.final_url, content_type=result.content_type
        )

    async def _next_poll(self, feed: FeedSettings) -> float:
        pushed = self.push is not None and await self.push.pushing(feed.name)
        interval = max(feed.interval, feed.interval_with_push) if pushed else feed.interval
        return self.clock() + interval * random.uniform(0.9, 1.1)

    async def poll(self, feed: FeedSettings, row: fq.FeedRow | None = None) -> PollResult:
        """Poll one feed once (`row`: its stored state, when just read); never raises for a
        feed's own problems."""
        row = row or await fq.get_feed(self.db, feed.name)
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
                    next_poll_at=await self._next_poll(feed),
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
        if self.push is not None and parsed.hub:
            topic = parsed.self_url or new_url
            await self.push.discovered(
                feed.name, parsed.hub, topic, allow_private=feed.allow_private
            )
        success = partial(
            fq.record_success,
            name=feed.name,
            now=self.clock(),
            next_poll_at=await self._next_poll(feed),
            url=new_url,
            etag=result.etag,
            last_modified=result.last_modified,
        )
        posted, edited = await self._take(feed, row, parsed, seen, success)
        await self._recovered(feed, row)
        log.info("feed %s: %d new, %d edited", feed.name, posted, edited)
        return PollResult(feed.name, posted=posted, edited=edited)

    async def take_pushed(self, name: str, body: bytes, content_type: str | None) -> PollResult:
        """A feed document a hub pushed: the same parse → dedup → outbox path as a poll.

        Raises NotAFeed when the body is no feed (nothing is changed then).
        """
        feed = self.feeds[name]
        row = await fq.get_feed(self.db, name)
        assert row is not None, "poller used before __aenter__"
        seen = await fq.seen_articles(self.db, name)
        skip = frozenset() if feed.edit_on_update else seen.keys()
        parsed = await asyncio.to_thread(
            partial(parse_feed, skip_keys=skip), body, url=row.url, content_type=content_type
        )
        posted, edited = await self._take(feed, row, parsed, seen)
        log.info("feed %s pushed: %d new, %d edited", name, posted, edited)
        return PollResult(name, posted=posted, edited=edited)

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
        success: Callable[[Tx], Awaitable[None]] | None = None,
    ) -> tuple[int, int]:
        """Record every unseen entry, and with `success` the poll's outcome (one
        transaction); post the new ones (only `backfill` on a first poll)."""
        first_poll = row.first_polled_at is None
        fresh = [a for a in oldest_first(parsed.articles) if a.key not in seen]
        to_post = [a for a in fresh if wanted(feed, a)]
        if first_poll:
            to_post = to_post[-feed.backfill :] if feed.backfill else []
        already = await fq.canonicals_posted(self.db, [a.canonical_url for a in to_post])
        post_keys = {a.key for a in to_post if a.canonical_url not in already}
        await self._record(feed, parsed, fresh, post_keys, success)
        edited = 0
        if feed.edit_on_update:
            for article in parsed.articles:
                known = seen.get(article.key)
                if known and known.posted and known.content_hash != article.content_hash:
                    edited += await self._edit(feed, parsed, known.id, article)
        return len(post_keys), edited

    async def _record(
        self,
        feed: FeedSettings,
        parsed: ParsedFeed,
        fresh: list[Article],
        post_keys: set[str],
        success: Callable[[Tx], Awaitable[None]] | None,
    ) -> None:
        """One transaction for a poll: every new entry, an outbox item per posted one,
        and the feed's new state (validators, next poll)."""
        started = time.perf_counter()
        channels: list[q.Target] = []
        pool: list[fq.Subscriber] = []
        if post_keys:
            channels = await self.audience.channel_targets(feed.channels)
            pool = await self.audience.subscriber_pool()
        everyone = [q.Target(s.platform, s.chat_id, "private", "subscriber") for s in pool]
        reads = await self.audience.people.languages(channels + everyone)
        now = self.clock()
        queued = 0
        async with self.db.transaction() as tx:
            ids = await fq.insert_articles(
                tx, [to_record(feed.name, a) for a in fresh], post_keys, now
            )
            for article in (a for a in fresh if a.key in post_keys):
                article_id = ids[article.key]
                topics = article_topics(feed, article)
                # The pool's targets, not new ones: a pool may be 100,000 subscribers.
                subscribers = [
                    target
                    for target, s in zip(everyone, pool, strict=True)
                    if not s.topics or not topics.isdisjoint(s.topics)
                ]
                # A post per language; private copies carry "More like this", channel posts
                # stay clean.
                for lang, targets, private in [
                    *((lang, group, False) for lang, group in reads.group(channels)),
                    *((lang, group, True) for lang, group in reads.group(subscribers)),
                ]:
                    body = self._with_appeal(
                        render_article(article, lang, feed_title=parsed.title), feed, article, lang
                    )
                    if private:
                        body = with_related_button(body, article_id, lang)
                    await self.outbox.enqueue(tx, Item("article", body, str(article_id)), targets)
                    queued += len(targets)
            if success is not None:
                await success(tx)
        if queued:
            elapsed = time.perf_counter() - started
            log.info("feed %s: %d deliveries queued in %.2f s", feed.name, queued, elapsed)

    def _with_appeal(self, post: Post, feed: FeedSettings, article: Article, lang: Lang) -> Post:
        """The post with its campaign's appeal, when the article asks for one."""
        campaign = self.appeals.campaign_for(feed.campaign, article) if self.appeals else None
        return replace(post, appeal=Appeal(campaign, lang.code)) if campaign else post

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
                body = replace(
                    render_article(article, lang, feed_title=parsed.title), appeal=old.appeal
                )
                if old.buttons:
                    body = with_related_button(body, article_id, lang)
                edits += await self.outbox.enqueue_edit(tx, item_id, body)
        return int(edits > 0)
