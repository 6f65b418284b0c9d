"""The stylesheet's colour pairs meet WCAG AA contrast (text 4.5:1; the bar 3:1)."""

from __future__ import annotations

import re
from importlib import resources

import pytest

CSS = (resources.files("bot.web") / "static" / "site.css").read_text(encoding="utf-8")
COLOURS = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6});", CSS))


def luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(COLOURS[a]), luminance(COLOURS[b])), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize(
    ("fg", "bg", "least"),
    [
        ("fg", "bg", 4.5),
        ("muted", "bg", 4.5),
        ("accent", "bg", 4.5),
        ("on-accent", "accent", 4.5),
        ("error", "bg", 4.5),
        ("fill", "track", 3.0),
        ("focus", "bg", 3.0),
    ],
)
def test_colour_pairs_are_readable(fg: str, bg: str, least: float) -> None:
    assert contrast(fg, bg) >= least
