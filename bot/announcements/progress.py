"""The live progress bar and the final report of an announcement."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.chat import Post
from bot.chat.bar import progress_bar
from bot.i18n import DEFAULT_LANGUAGE, Lang
from bot.outbox.paid import StarsEstimate, paid_line


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """Delivery rows of one item by state."""

    by_state: dict[str, int]

    def _get(self, state: str) -> int:
        return self.by_state.get(state, 0)

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    @property
    def sent(self) -> int:
        return self._get("sent")

    @property
    def failed(self) -> int:
        return self._get("failed")

    @property
    def gone(self) -> int:
        return self._get("gone")

    @property
    def unknown(self) -> int:
        return self._get("unknown")

    @property
    def cancelled(self) -> int:
        return self._get("cancelled")

    @property
    def pending(self) -> int:
        return self._get("pending") + self._get("sending")

    @property
    def finished(self) -> int:
        return self.total - self.pending

    def summary(self, lang: Lang | None = None) -> str:
        """ "9,990 sent · 10 failed · 0 deactivated · 0 unknown", in `lang` (English when
        None: the audit log and the terminal)."""
        lang = lang or Lang.of(DEFAULT_LANGUAGE)
        parts = [
            lang.ngettext("{n} sent", "{n} sent", self.sent),
            lang.ngettext("{n} failed", "{n} failed", self.failed),
            lang.ngettext("{n} deactivated", "{n} deactivated", self.gone),
            lang.ngettext("{n} unknown", "{n} unknown", self.unknown),
        ]
        if self.cancelled:
            parts.append(lang.ngettext("{n} cancelled", "{n} cancelled", self.cancelled))
        return " · ".join(parts)


def eta(done: int, total: int, elapsed: float, lang: Lang) -> str:
    if done == 0 or elapsed <= 0:
        return ""
    left = (total - done) * elapsed / done
    if left < 60:
        return " · " + lang.gettext("under a minute left")
    minutes = round(left / 60)
    return " · " + lang.ngettext("about {n} minute left", "about {n} minutes left", minutes)


def progress_post(announcement_id: int, counts: DeliveryCounts, elapsed: float, lang: Lang) -> Post:
    """ "Announcement #3: delivering ▓▓▓░░░ 3,200 / 10,000 · 2 failed · about 4 minutes left" """
    failed = counts.failed + counts.gone + counts.unknown
    line = lang.gettext(
        "Announcement #{id}: delivering {bar} {done} / {total}",
        id=announcement_id,
        bar=progress_bar(counts.finished, counts.total),
        done=lang.number(counts.finished),
        total=lang.number(counts.total),
    )
    if failed:
        line += " · " + lang.ngettext("{n} failed", "{n} failed", failed)
    return replace(
        Post.text(line + eta(counts.finished, counts.total, elapsed, lang)), lang=lang.code
    )


def final_report(
    announcement_id: int, counts: DeliveryCounts, lang: Lang, paid: StarsEstimate | None = None
) -> Post:
    """The last state of the progress message; with `paid`, what the paid broadcast cost."""
    chats = lang.ngettext("{n} chat", "{n} chats", counts.total)
    head = lang.gettext(
        "Announcement #{id} finished: {bar} {chats}",
        id=announcement_id,
        bar=progress_bar(counts.total, counts.total),
        chats=chats,
    )
    lines = [head, counts.summary(lang)]
    if paid is not None:
        lines.append(paid_line(paid, lang))
    return replace(Post.text(*lines), lang=lang.code)
