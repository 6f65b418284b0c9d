"""Who receives what: channels, subscribers and admins as outbox targets.

Also the admins' notices, and what happens when a delivery finds its chat gone
or gives up. Items are enqueued through the `Outbox`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial

from bot.chat import Post
from bot.i18n import Lang
from bot.outbox.service import Item, Outbox
from bot.people import Localized, People
from bot.storage import Database, Tx
from bot.storage import feeds as fq
from bot.storage import outbox as q

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A configured channel: a name the config uses for a chat on a platform."""

    name: str
    platform: str
    chat: str


def topics_match(subscribed: Iterable[str], article_topics: Iterable[str]) -> bool:
    """No topics means everything; otherwise any shared topic."""
    wanted = set(subscribed)
    return not wanted or bool(wanted & set(article_topics))


@dataclass(frozen=True)
class Audience:
    """Resolves names and topics into delivery targets; tells the admins what they must know."""

    db: Database
    outbox: Outbox
    channels: dict[str, ChannelSpec]
    platforms: list[str]
    admins: list[q.Target]
    people: People
    clock: Callable[[], float] = time.time
    paused_retention: float = 3 * 86400.0

    async def channel_targets(self, names: Iterable[str]) -> list[q.Target]:
        gone = await fq.gone_channels(self.db)
        targets = []
        for name in names:
            spec = self.channels[name]
            if name in gone or spec.platform not in self.platforms:
                continue
            chat_id = await fq.current_chat_id(self.db, spec.platform, spec.chat)
            targets.append(q.Target(spec.platform, chat_id, "channel", f"channel:{name}"))
        return targets

    async def subscriber_pool(self) -> list[fq.Subscriber]:
        """Every active subscriber on a running platform (read once, matched many times)."""
        return await fq.active_subscribers(self.db, self.platforms)

    @staticmethod
    def subscribers_among(pool: list[fq.Subscriber], topics: Iterable[str]) -> list[q.Target]:
        topic_set = set(topics)
        return [
            q.Target(s.platform, s.chat_id, "private", "subscriber")
            for s in pool
            if topics_match(s.topics, topic_set)
        ]

    async def subscriber_targets(self, topics: Iterable[str]) -> list[q.Target]:
        return self.subscribers_among(await self.subscriber_pool(), topics)

    async def enqueue_localized(
        self,
        tx: Tx,
        kind: str,
        render: Localized,
        targets: list[q.Target],
        ref: str | None = None,
        *,
        lang: Lang | None = None,
    ) -> list[int]:
        """In `tx`, an item per language the targets read (`render(lang)`), a row per target.

        With `lang`, every target reads that language (a thank-you, in the language its
        donor asked in)."""
        item_ids = []
        groups = [(lang, targets)] if lang else await self.people.by_language(targets, tx)
        for reader, group in groups:
            post = replace(render(reader), lang=reader.code)
            item_id = await self.outbox.enqueue(tx, Item(kind, post, ref), group)
            if item_id is not None:
                item_ids.append(item_id)
        return item_ids

    async def notify_admins(self, notice: Localized, *, not_on: str | None = None) -> None:
        """Tell every configured admin (privately, in their language) what an operator must
        know; `not_on`: except on that platform (it cannot take the notice)."""
        admins = [a for a in self.admins if a.platform != not_on]
        async with self.db.transaction() as tx:
            await self.enqueue_localized(tx, "notice", notice, admins)

    async def on_platform_stopped(self, platform: str, reason: str) -> None:
        """A platform's adapter stopped for good: the admins hear of it on the others."""

        def notice(lang: Lang) -> Post:
            return Post.text(
                lang.gettext(
                    "The {platform} connection stopped: {reason}. The bot runs on without "
                    "it; fix the configuration and restart the bot.",
                    platform=platform,
                    reason=reason,
                )
            )

        await self.notify_admins(notice, not_on=platform)

    async def on_gone(self, row: q.DeliveryRow, reason: str) -> None:
        """A chat refused us for good: deactivate the subscriber or flag the channel."""
        if row.target == "subscriber":
            await fq.deactivate_subscriber(self.db, row.platform, row.chat_id)
        elif row.target.startswith("channel:"):
            await self._channel_gone(row.target.removeprefix("channel:"), row.platform, reason)

    async def on_bot_removed(self, platform: str, chat_id: str, reason: str) -> None:
        """The platform says the bot was removed from a chat: a configured channel there is
        gone (before any post finds out)."""
        for name in await self.channels_in(platform, chat_id):
            await self._channel_gone(name, platform, reason)

    async def _channel_gone(self, name: str, platform: str, reason: str) -> None:
        if await fq.mark_channel_gone(self.db, name, reason, self.clock()):
            await self.notify_admins(
                lambda lang: Post.text(
                    lang.gettext(
                        "Channel '{name}' ({platform}) no longer accepts posts: {reason}. "
                        "Posts to it are paused until the bot is added back.",
                        name=name,
                        platform=platform,
                        reason=reason,
                    )
                )
            )

    async def on_paused(self, row: q.DeliveryRow, reason: str) -> None:
        """A channel cannot take posts now (rights taken away): tell the admins, once."""
        if not row.target.startswith("channel:"):
            return
        name = row.target.removeprefix("channel:")
        if await fq.mark_channel_paused(self.db, name, reason, self.clock()):
            hours = round(self.paused_retention / 3600)

            def notice(lang: Lang) -> Post:
                return Post.text(
                    lang.ngettext(
                        "Channel '{name}' ({platform}) is paused: {reason}. Its posts wait for "
                        "up to {n} hour. Give the bot back its right to post there, or send "
                        "/resume {name} once it has it.",
                        "Channel '{name}' ({platform}) is paused: {reason}. Its posts wait for "
                        "up to {n} hours. Give the bot back its right to post there, or send "
                        "/resume {name} once it has it.",
                        hours,
                        name=name,
                        platform=row.platform,
                        reason=reason,
                    )
                )

            await self.notify_admins(notice)

    async def on_moved(self, platform: str, old_id: str, new_id: str) -> None:
        """A chat has a new id: a subscriber and a configured channel follow it."""
        await fq.move_subscriber(self.db, platform, old_id, new_id)
        await fq.move_channel(self.db, platform, old_id, new_id)

    async def channels_in(self, platform: str, chat_id: str) -> list[str]:
        """The configured channels that are `chat_id` on `platform` (after any move)."""
        names = []
        for spec in self.channels.values():
            if spec.platform != platform:
                continue
            if chat_id in (spec.chat, await fq.current_chat_id(self.db, platform, spec.chat)):
                names.append(spec.name)
        return names

    async def resume(self, name: str) -> bool:
        """The channel posts again: clear its gone or paused mark, send what waits for it.
        False if it was neither."""
        spec = self.channels[name]
        was_stopped = await fq.clear_channel_gone(self.db, name)
        chat_id = await fq.current_chat_id(self.db, spec.platform, spec.chat)
        await self.outbox.resume_chat(spec.platform, chat_id)
        return was_stopped

    async def on_bot_added(self, platform: str, chat_id: str) -> None:
        """The bot was added (back) to a chat: a configured channel there resumes."""
        for name in await self.channels_in(platform, chat_id):
            if await self.resume(name):
                log.info("channel %s on %s resumed: the bot was added back", name, platform)
                await self.notify_admins(partial(_back_notice, name, platform))

    async def on_failed(self, row: q.DeliveryRow, reason: str) -> None:
        if row.target == "admin":
            return  # never notice about a failed notice: that could loop
        kind = row.chat_kind

        def notice(lang: Lang) -> Post:
            if kind == "channel":
                text = lang.gettext(
                    "A post to a channel on {platform} failed: {reason}.",
                    platform=row.platform,
                    reason=reason,
                )
            elif kind == "group":
                text = lang.gettext(
                    "A post to a group on {platform} failed: {reason}.",
                    platform=row.platform,
                    reason=reason,
                )
            else:
                text = lang.gettext(
                    "A post to a private chat on {platform} failed: {reason}.",
                    platform=row.platform,
                    reason=reason,
                )
            return Post.text(text)

        await self.notify_admins(notice)


def _back_notice(name: str, platform: str, lang: Lang) -> Post:
    return Post.text(
        lang.gettext(
            "Channel '{name}' ({platform}) is back: the bot was added again, and posts to "
            "it resume.",
            name=name,
            platform=platform,
        )
    )
