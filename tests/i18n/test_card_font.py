"""The progress card draws Cyrillic and accented Latin, never the missing-glyph box."""

from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image, ImageFont

from bot.donations.campaigns import Campaign, Progress
from bot.donations.card import card_font, render_card
from bot.i18n import Lang

TITLES = ["Российские антивоенные протестующие", "Protestas en México", "Збір для України: ґ, є, ї"]
NOT_IN_ANY_FONT = "\U0010fffd"  # a private-use code point: drawn as the font's .notdef glyph


def _drawing(font: ImageFont.FreeTypeFont, char: str) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(char)
    return mask.size, bytes(mask)


def missing_glyphs(font: ImageFont.FreeTypeFont, text: str) -> list[str]:
    """The characters of `text` that `font` draws as its missing-glyph (.notdef) box."""
    notdef = _drawing(font, NOT_IN_ANY_FONT)
    return [ch for ch in text if not ch.isspace() and _drawing(font, ch) == notdef]


def test_the_check_sees_the_box_pillow_draws_without_our_font() -> None:
    builtin = ImageFont.load_default(size=26)
    assert isinstance(builtin, ImageFont.FreeTypeFont)
    assert "Р" in missing_glyphs(builtin, TITLES[0])
    assert "é" in missing_glyphs(builtin, TITLES[1])


@pytest.mark.parametrize("weight", [400, 600])
@pytest.mark.parametrize("title", TITLES)
def test_the_card_font_has_every_letter(title: str, weight: int) -> None:
    assert missing_glyphs(card_font(26, weight), title) == []


def test_bold_is_heavier_than_regular() -> None:
    def ink(font: ImageFont.FreeTypeFont) -> int:
        return sum(bytes(font.getmask("Протест")))

    assert ink(card_font(26, 600)) > ink(card_font(26, 400)) * 1.1


def test_a_card_with_a_cyrillic_title_renders() -> None:
    campaign = Campaign(
        id="russia",
        title=TITLES[0],
        earmark="for Russian anti-war protesters",
        goal=1_000_000,
        currency="USD",
        amounts=(1000,),
        deadline=date(2026, 3, 10),
    )
    png = render_card([Progress(campaign, 620_000, 311)], date(2026, 3, 1), Lang.of("ru"))
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size[0] == 720
