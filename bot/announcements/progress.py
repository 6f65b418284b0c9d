"""The live progress bar and the final report of an announcement."""

from __future__ import annotations

from dataclasses import dataclass

from bot.chat import Post
from bot.chat.bar import progress_bar


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

    def summary(self) -> str:
        parts = [
            f"{self.sent:,} sent",
            f"{self.failed:,} failed",
            f"{self.gone:,} deactivated",
            f"{self.unknown:,} unknown",
        ]
        if self.cancelled:
            parts.append(f"{self.cancelled:,} cancelled")
        return " · ".join(parts)


def eta(done: int, total: int, elapsed: float) -> str:
    if done == 0 or elapsed <= 0:
        return ""
    left = (total - done) * elapsed / done
    if left < 60:
        return " · under a minute left"
    return f" · about {round(left / 60):,} min left"


def progress_post(announcement_id: int, counts: DeliveryCounts, elapsed: float) -> Post:
    """ "Delivering ▓▓▓░░░ 3,200 / 10,000 · 2 failed · about 4 min left" """
    failed = counts.failed + counts.gone + counts.unknown
    bar = progress_bar(counts.finished, counts.total)
    line = (
        f"Announcement #{announcement_id}: delivering {bar} "
        f"{counts.finished:,} / {counts.total:,}"
        + (f" · {failed:,} failed" if failed else "")
        + eta(counts.finished, counts.total, elapsed)
    )
    return Post.text(line)


def final_report(announcement_id: int, counts: DeliveryCounts) -> Post:
    return Post.text(
        f"Announcement #{announcement_id} finished: {progress_bar(counts.total, counts.total)} "
        f"{counts.total:,} chats",
        counts.summary(),
    )
