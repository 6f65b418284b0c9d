"""The grapheme-safe cut: emoji, flags, skin tones and accents survive any limit."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.chat.text import cut, graphemes, truncate, utf8_len, utf16_len

FAMILY = "👩\u200d👩\u200d👧\u200d👦"  # one picture, seven code points
COOK = "🧑🏽\u200d🍳"  # a person with a skin tone, joined to a pan
THUMB = "👍🏿"
UKRAINE = "🇺🇦"
ENGLAND = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
KEYCAP = "1\ufe0f\u20e3"
STRESSED = "зa\u0301мок"  # a Cyrillic word with a combining stress mark
HANGUL_JAMO = "\u1112\u1161\u11ab"  # 한 spelled as three jamo


@pytest.mark.parametrize(
    "cluster",
    [
        FAMILY,
        COOK,
        THUMB,
        UKRAINE,
        ENGLAND,
        KEYCAP,
        "a\u0301",
        "e\u0308\u0301",
        HANGUL_JAMO,
        "\r\n",
    ],
)
def test_a_cluster_is_one_grapheme(cluster: str) -> None:
    assert list(graphemes(cluster)) == [cluster]
    assert list(graphemes("x" + cluster + "y")) == ["x", cluster, "y"]


def test_flags_pair_up_in_a_row_of_regional_indicators() -> None:
    assert list(graphemes(UKRAINE * 2 + "🇺")) == [UKRAINE, UKRAINE, "🇺"]


def test_a_joiner_before_a_letter_does_not_glue_the_letter() -> None:
    assert list(graphemes("a\u200db")) == ["a\u200d", "b"]


@pytest.mark.parametrize("emoji", [FAMILY, COOK, THUMB, UKRAINE, ENGLAND, KEYCAP])
@pytest.mark.parametrize("measure", [len, utf16_len, utf8_len])
def test_a_cut_at_an_emoji_drops_it_whole(emoji: str, measure: object) -> None:
    assert callable(measure)
    text = "ab" + emoji + "cd"
    for limit in range(measure("ab"), measure("ab" + emoji)):
        assert cut(text, limit, measure=measure) == "ab"
    assert cut(text, measure("ab" + emoji), measure=measure) == "ab" + emoji


def test_a_combining_accent_stays_on_its_letter() -> None:
    assert cut(STRESSED, 2) == "з"  # not "зa" without its accent
    assert cut(STRESSED, 3) == "зa\u0301"


def test_a_cut_prefers_a_word_boundary_in_the_second_half() -> None:
    assert cut("one two three four", 16) == "one two three"
    assert cut("a verylongword", 9) == "a verylon"  # the space is too early to be worth it
    assert cut("one two", 3, at_word=False) == "one"


def test_truncate_leaves_text_that_fits_and_marks_a_cut() -> None:
    assert truncate("short", 5) == "short"
    assert truncate("one two three four", 10) == "one two…"
    assert truncate("x" * 50, 10) == "x" * 9 + "…"
    assert truncate("long text", 0) == ""


def test_truncate_counts_utf16_units_like_telegram() -> None:
    text = "ok " + THUMB * 3  # a thumb with a skin tone is four UTF-16 units
    cut_text = truncate(text, 12, measure=utf16_len)
    assert cut_text == "ok " + THUMB * 2 + "…"
    assert utf16_len(cut_text) <= 12


PIECES = ["a", " ", FAMILY, THUMB, UKRAINE, "e\u0301", "🇺", "\n"]


@given(st.lists(st.sampled_from(PIECES)).map("".join), st.integers(min_value=0, max_value=40))
def test_any_truncation_fits_and_ends_between_clusters(text: str, limit: int) -> None:
    boundaries = {0}
    for cluster in graphemes(text):
        boundaries.add(max(boundaries) + len(cluster))
    for measure in (len, utf16_len, utf8_len):
        out = truncate(text, limit, measure=measure)
        assert measure(out) <= limit
        body = out if out == text else out.removesuffix("…")
        assert text.startswith(body)
        assert len(body) in boundaries


def test_every_character_of_text_is_kept_by_graphemes() -> None:
    text = unicodedata.normalize("NFD", "Привет, мир! ") + FAMILY + ENGLAND + KEYCAP
    assert "".join(graphemes(text)) == text
