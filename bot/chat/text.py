"""Cutting text to a platform's limit without breaking what a reader sees as one character.

A reader's character is a grapheme cluster: "é" written as e + a combining
accent, a flag (two regional indicators), a thumbs-up with a skin tone, a
family joined by zero-width joiners. A cut between the parts of one shows a
broken glyph or a different emoji, so every cut here falls between clusters.

Platforms count differently (Telegram in UTF-16 code units, Matrix in bytes of
the event, the console in characters): each function takes a `measure`, which
must add up over concatenation (`len`, `utf16_len`, `utf8_len`).

The clustering follows Unicode's extended grapheme cluster rules (UAX #29)
for everything but Prepend characters and Indic conjuncts, using only the
standard library's character categories.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator

Measure = Callable[[str], int]

ELLIPSIS = "…"
ZWJ = "\u200d"
_MARK_CATEGORIES = frozenset({"Mn", "Me", "Mc"})
# Hangul jamo: leading consonants, vowels, trailing consonants (and their extensions).
_L = ((0x1100, 0x115F), (0xA960, 0xA97C))
_V = ((0x1160, 0x11A7), (0xD7B0, 0xD7C6))
_T = ((0x11A8, 0x11FF), (0xD7CB, 0xD7FB))
_SYLLABLES = (0xAC00, 0xD7A3)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (how Telegram measures text)."""
    return len(text.encode("utf-16-le")) // 2


def utf8_len(text: str) -> int:
    """Length in bytes of UTF-8 (how Matrix events are measured)."""
    return len(text.encode())


def _within(cp: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= cp <= high for low, high in ranges)


def _is_extend(char: str) -> bool:
    """Joins the cluster before it: marks, ZWJ, variation selectors, skin tones, tags."""
    cp = ord(char)
    return (
        char == ZWJ
        or unicodedata.category(char) in _MARK_CATEGORIES
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors (text or emoji presentation)
        or 0xE0100 <= cp <= 0xE01EF
        or 0x1F3FB <= cp <= 0x1F3FF  # emoji skin-tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # tags (subdivision flags such as England's)
    )


def _is_regional(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _is_pictographic(char: str) -> bool:
    cp = ord(char)
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or (cp >= 0x2000 and unicodedata.category(char) == "So")
    )


def _hangul(char: str) -> str:
    """The Hangul syllable type: L, V, T, LV, LVT, or "" for any other character."""
    cp = ord(char)
    if _SYLLABLES[0] <= cp <= _SYLLABLES[1]:
        return "LV" if (cp - _SYLLABLES[0]) % 28 == 0 else "LVT"
    for kind, ranges in (("L", _L), ("V", _V), ("T", _T)):
        if _within(cp, ranges):
            return kind
    return ""


def _hangul_joins(before: str, after: str) -> bool:
    first, second = _hangul(before), _hangul(after)
    if first == "L":
        return second in ("L", "V", "LV", "LVT")
    if first in ("LV", "V"):
        return second in ("V", "T")
    return first in ("LVT", "T") and second == "T"


def _joins(cluster: str, char: str) -> bool:
    """Whether `char` continues `cluster` (a non-empty cluster so far)."""
    last = cluster[-1]
    if last == "\r":
        return char == "\n"
    if last == "\n" or char in "\r\n":
        return False
    if _is_extend(char):
        return True
    if last == ZWJ:
        # An emoji ZWJ sequence: 👩 ZWJ 💻 is one picture.
        return _is_pictographic(char) and any(_is_pictographic(c) for c in cluster)
    if _is_regional(char) and _is_regional(last):
        # Regional indicators pair up into flags; a third one starts the next flag.
        return sum(map(_is_regional, cluster)) % 2 == 1
    return _hangul_joins(last, char)


def graphemes(text: str) -> Iterator[str]:
    """The grapheme clusters of `text`, in order; joined they give `text` back."""
    cluster = ""
    for char in text:
        if cluster and not _joins(cluster, char):
            yield cluster
            cluster = ""
        cluster += char
    if cluster:
        yield cluster


def cut(text: str, limit: int, *, measure: Measure = len, at_word: bool = True) -> str:
    """The longest prefix of whole grapheme clusters within `limit`, trailing spaces removed.

    With `at_word`, the prefix ends at the last space or line break when that
    keeps more than half of it, so a cut does not end mid-word.
    """
    used, end = 0, 0
    for cluster in graphemes(text):
        used += measure(cluster)
        if used > limit:
            break
        end += len(cluster)
    else:
        return text
    prefix = text[:end]
    if at_word:
        space = max(prefix.rfind(" "), prefix.rfind("\n"))
        if space > len(prefix) // 2:
            prefix = prefix[:space]
    return prefix.rstrip()


def truncate(
    text: str,
    limit: int,
    *,
    measure: Measure = len,
    ellipsis: str = ELLIPSIS,
    at_word: bool = True,
) -> str:
    """`text` if it fits in `limit`, else a cut of it ending in `ellipsis`, all within `limit`."""
    if measure(text) <= limit:
        return text
    room = limit - measure(ellipsis)
    if room < 0:
        return ""
    return cut(text, room, measure=measure, at_word=at_word) + ellipsis
