"""The progress card: a small PNG with a bar per campaign, for platforms that show pictures."""

from __future__ import annotations

import functools
import io
from datetime import date
from importlib import resources

from PIL import Image, ImageDraw, ImageFont

from bot.donations.campaigns import Progress, percent_reached, percent_shown
from bot.i18n import Lang

WIDTH = 720
ROW_HEIGHT = 150
MARGIN = 32
BAR_HEIGHT = 28

BACKGROUND = (250, 250, 247)
INK = (28, 28, 30)
MUTED = (100, 100, 108)
TRACK = (222, 222, 218)
FILL = (214, 64, 50)


Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

# Noto Sans (OFL-1.1, from the fontpkg-noto-sans dependency) has every Latin, Cyrillic
# and Greek letter our readers write; Pillow's built-in font draws Cyrillic and even
# "é" as empty boxes.
FONT_PACKAGE = "fontpkg_noto_sans"


def _font_bytes() -> bytes:
    folder = resources.files(FONT_PACKAGE) / "files"
    upright = sorted(
        f.name
        for f in folder.iterdir()
        if f.name.startswith("NotoSans") and f.name.endswith(".ttf") and "Italic" not in f.name
    )
    if not upright:
        raise FileNotFoundError(f"no upright Noto Sans .ttf in the {FONT_PACKAGE} package")
    return (folder / upright[0]).read_bytes()


@functools.cache
def card_font(size: int, weight: int = 400) -> ImageFont.FreeTypeFont:
    """Noto Sans at `size` pixels and `weight` (400 regular, 700 bold), loaded once each."""
    font = ImageFont.truetype(io.BytesIO(_font_bytes()), size)
    try:
        axes = font.get_variation_axes()
    except OSError:  # a static (non-variable) font: one weight only
        return font
    font.set_variation_by_axes(
        [float(weight) if a["name"] == b"Weight" else float(a["default"] or 0) for a in axes]
    )
    return font


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int) -> str:
    """`text`, shortened with an ellipsis until it fits in `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _row(draw: ImageDraw.ImageDraw, top: int, p: Progress, today: date, lang: Lang) -> None:
    c = p.campaign
    title = card_font(26, weight=600)
    body = card_font(19)
    inner = WIDTH - 2 * MARGIN
    draw.text((MARGIN, top), _fit(draw, c.title_in(lang.code), title, inner), font=title, fill=INK)
    bar_top = top + 44
    draw.rounded_rectangle(
        (MARGIN, bar_top, MARGIN + inner, bar_top + BAR_HEIGHT), radius=8, fill=TRACK
    )
    filled = inner * min(100, percent_reached(p.raised, c.goal)) // 100
    if filled > 0:
        draw.rounded_rectangle(
            (MARGIN, bar_top, MARGIN + max(filled, 16), bar_top + BAR_HEIGHT), radius=8, fill=FILL
        )
    figures = (
        lang.gettext(
            "{raised} of {goal}",
            raised=lang.money(p.raised, c.currency),
            goal=lang.money(c.goal, c.currency),
        )
        + "  ·  "
        + lang.percent(percent_shown(p.raised, c.goal))
    )
    draw.text((MARGIN, bar_top + BAR_HEIGHT + 10), figures, font=body, fill=INK)
    extra = [lang.donations(p.donations)]
    left = lang.deadline(c.deadline, today)
    if left:
        extra.append(left)
    draw.text(
        (MARGIN, bar_top + BAR_HEIGHT + 38),
        _fit(draw, "  ·  ".join(extra), body, inner),
        font=body,
        fill=MUTED,
    )


def render_card(progress: list[Progress], today: date, lang: Lang) -> bytes:
    """A PNG with one row per campaign (title, bar, figures); a few KB, a few ms."""
    height = MARGIN * 2 + ROW_HEIGHT * max(1, len(progress)) - 20
    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for i, p in enumerate(progress):
        _row(draw, MARGIN + i * ROW_HEIGHT, p, today, lang)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
