"""Admin announcements: draft and preview, confirm, schedule, deliver with live progress."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from bot.announcements.markup import parse_markup
from bot.announcements.progress import DeliveryCounts, final_report, progress_post
from bot.announcements.targets import (
    AnnounceOptions,
    OptionError,
    check_selectors,
    describe,
    resolve,
)
from bot.audit import AuditLog
from bot.chat import ChatError, ChatKind, ChatRef, Post, SentRef
from bot.chat.codec import post_from_json, post_to_json
from bot.chat.messenger import Messenger
from bot.i18n import DEFAULT_LANGUAGE, Lang
from bot.outbox import Item, Outbox
from bot.outbox.audience import Audience
from bot.outbox.paid import ArticleReports, PaidBroadcast
from bot.storage import Database
from bot.storage import announcements as aq
from bot.storage import outbox as q

__all__ = ["AnnounceOptions", "Announcements", "Draft", "OptionError"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Draft:
    id: int
    post: Post
    targets: list[q.Target]
    summary: str
    send_at: datetime | None


@dataclass
class Announcements:
    """Owns announcements from draft to final report; `run` drives schedules and progress."""

    db: Database
    audience: Audience
    outbox: Outbox
    messenger: Messenger
    audit: AuditLog
    channel_names: list[str]
    topics: list[str]
    clock: Callable[[], float] = field(default=time.time)
    report_interval: float = 3.0
    paid: PaidBroadcast = field(default_factory=PaidBroadcast)  # Telegram's paid broadcasts
    # Announcement id -> the language of the admin who confirmed it (their reports' language).
    _report_langs: dict[int, Lang] = field(default_factory=dict, init=False, repr=False)

    async def draft(self, author: str, options: AnnounceOptions) -> Draft:
        """Check the targets, resolve them now (for the preview) and store a draft."""
        check_selectors(options.selectors, self.channel_names, self.topics)
        post = self.post_of(options)
        targets = await resolve(self.audience, options.selectors)
        draft_id = await aq.create(
            self.db, author=author, source=options.text, post_json=post_to_json(post),
            selectors=list(options.selectors),
            send_at=options.send_at.timestamp() if options.send_at else None, now=self.clock(),
        )  # fmt: skip
        await self.audit.record(author, "announce", f"#{draft_id} to {describe(targets)}", "draft")
        return Draft(draft_id, post, targets, describe(targets), options.send_at)

    @staticmethod
    def post_of(options: AnnounceOptions) -> Post:
        return replace(parse_markup(options.text), pin=options.pin)

    async def confirm(
        self,
        announcement_id: int,
        author: str,
        report_to: ChatRef | None,
        lang: Lang | None = None,
    ) -> str:
        """Send now (or schedule); returns what to tell the admin, in `lang` (English when
        None: the terminal). The progress reports to `report_to` are in `lang` too."""
        lang = lang or Lang.of(DEFAULT_LANGUAGE)
        row = await aq.get(self.db, announcement_id)
        if row is None or row.state != aq.DRAFT:
            return lang.gettext(
                "Announcement #{id} is not waiting for a confirmation.", id=announcement_id
            )
        if report_to is not None:
            self._report_langs[row.id] = lang
            await aq.set_report(
                self.db, row.id, platform=report_to.platform, chat=report_to.id,
                kind=report_to.kind, message_id="",
            )  # fmt: skip
        if row.send_at is not None and row.send_at > self.clock():
            await aq.set_state(self.db, row.id, aq.SCHEDULED, self.clock(), expect=aq.DRAFT)
            when = datetime.fromtimestamp(row.send_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
            await self.audit.record(author, "confirm", f"#{row.id} for {when}", "scheduled")
            return lang.gettext("Announcement #{id} is scheduled for {when}.", id=row.id, when=when)
        count = await self.start(row.id)
        await self.audit.record(author, "confirm", f"#{row.id}", f"sending to {count}")
        return lang.ngettext(
            "Announcement #{id} is going out to {n} chat.",
            "Announcement #{id} is going out to {n} chats.",
            count,
            id=row.id,
        )

    async def start(self, announcement_id: int) -> int:
        """Enqueue for the targets as they are now; returns how many."""
        row = await aq.get(self.db, announcement_id)
        assert row is not None
        targets = await resolve(self.audience, row.selectors)
        now = self.clock()
        item = Item("announcement", post_from_json(row.post_json), str(row.id))
        async with self.db.transaction() as tx:
            item_id = await self.outbox.enqueue(tx, item, targets)
            await aq.started(tx, row.id, item_id, now)
        log.info("announcement #%d enqueued for %d chats", row.id, len(targets))
        await self._report(row.id, force=True)
        return len(targets)

    async def cancel(self, announcement_id: int, author: str, lang: Lang | None = None) -> str:
        """Cancel a draft, a scheduled announcement, or the unsent rest of a running one;
        returns what to tell the admin, in `lang` (English when None: the terminal)."""
        lang = lang or Lang.of(DEFAULT_LANGUAGE)
        row = await aq.get(self.db, announcement_id)
        if row is None or row.state in (aq.DONE, aq.CANCELLED):
            return lang.gettext("Announcement #{id} is not pending or running.", id=announcement_id)
        now = self.clock()
        if row.state == aq.SENDING and row.item_id is not None:
            stopped = await aq.cancel_pending(self.db, row.item_id, now)
            await self.audit.record(author, "cancel", f"#{row.id}", f"{stopped} unsent cancelled")
            await self._report(row.id, force=True)
            return lang.ngettext(
                "Announcement #{id}: {n} unsent message cancelled.",
                "Announcement #{id}: {n} unsent messages cancelled.",
                stopped,
                id=row.id,
            )
        await aq.set_state(self.db, row.id, aq.CANCELLED, now, expect=row.state)
        await self.audit.record(author, "cancel", f"#{row.id}", f"cancelled ({row.state})")
        return lang.gettext("Announcement #{id} is cancelled; nothing was sent.", id=row.id)

    async def counts(self, announcement_id: int) -> DeliveryCounts:
        row = await aq.get(self.db, announcement_id)
        if row is None or row.item_id is None:
            return DeliveryCounts({})
        return DeliveryCounts(await q.item_counts(self.db, row.item_id))

    async def tick(self) -> None:
        """Start what is due, refresh progress, close what has finished (and tell the admins
        what paid broadcasts of articles cost)."""
        now = self.clock()
        for row in await aq.with_state(self.db, aq.SCHEDULED):
            if row.send_at is not None and row.send_at <= now:
                await self.start(row.id)
        for row in await aq.with_state(self.db, aq.SENDING):
            await self._report(row.id)
        await ArticleReports(self.db, self.audience, self.paid).tick()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("announcement tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)

    async def _report(self, announcement_id: int, *, force: bool = False) -> None:
        row = await aq.get(self.db, announcement_id)
        if row is None or row.state != aq.SENDING:
            return
        counts = await self.counts(row.id)
        now = self.clock()
        done = counts.pending == 0
        if (
            not (force or done)
            and row.last_report_at
            and now - row.last_report_at < self.report_interval
        ):
            return
        lang = await self._report_lang(row)
        if done:
            await aq.set_state(self.db, row.id, aq.DONE, now, expect=aq.SENDING)
            await self.audit.record(row.author, "delivered", f"#{row.id}", counts.summary())
            spent = await self.paid.spent(self.db, row.item_id) if row.item_id else None
            post = final_report(row.id, counts, lang, spent)
            self._report_langs.pop(row.id, None)
        else:
            post = progress_post(row.id, counts, now - (row.started_at or now), lang)
        await aq.reported(self.db, row.id, now)
        await self._show(row, post)

    async def _report_lang(self, row: aq.AnnouncementRow) -> Lang:
        """The confirming admin's language; after a restart, what their chat reads."""
        if row.id in self._report_langs:
            return self._report_langs[row.id]
        if row.report_platform is None or row.report_chat is None:
            return self.audience.people.default_lang
        kind = row.report_kind or "private"
        target = q.Target(row.report_platform, row.report_chat, kind, "admin")
        return await self.audience.people.lang_of_target(target)

    async def _show(self, row: aq.AnnouncementRow, post: Post) -> None:
        """Edit the admin's progress message in place (send it first if there is none yet)."""
        if row.report_platform is None or row.report_chat is None:
            return
        chat = ChatRef(row.report_platform, row.report_chat, ChatKind(row.report_kind or "private"))
        try:
            if row.report_message:
                # One key per edit: a report may show the same counts again later.
                key = f"announcement-{row.id}-report-{int(self.clock() * 1000)}"
                await self.messenger.edit(SentRef(chat, row.report_message), post, key=key)
            else:
                sent = await self.messenger.send(chat, post, key=f"announcement-{row.id}-report")
                await aq.set_report(
                    self.db, row.id, platform=chat.platform, chat=chat.id, kind=chat.kind,
                    message_id=sent.message_id,
                )  # fmt: skip
        except ChatError as exc:
            log.warning("could not update announcement #%d's report: %s", row.id, exc)
