"""A text progress bar for chat messages (every platform shows these two block characters)."""

from __future__ import annotations

BAR_CELLS = 10
FILLED = "▓"
EMPTY = "░"


def progress_bar(done: int, total: int, cells: int = BAR_CELLS) -> str:
    """`cells` blocks, filled by whole steps reached: ▓▓▓▓▓▓░░░░ for 62 of 100.

    Never more than full (135% is a full bar), never less than empty (a
    negative amount is an empty bar); with nothing to do (`total` of 0 or less)
    the bar is full.
    """
    filled = cells if total <= 0 else min(cells, max(0, done) * cells // total)
    return FILLED * filled + EMPTY * (cells - filled)
