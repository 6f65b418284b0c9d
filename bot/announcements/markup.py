"""Light markup for announcements: *bold*, _italic_, [text](url), lines and "- " lists."""

from __future__ import annotations

import re

from bot.chat import Block, BulletList, Paragraph, Post, Span

_INLINE = re.compile(
    r"\[(?P<label>[^\]\n]+)\]\((?P<url>https?://[^)\s]+)\)"
    r"|(?<![\w*])\*(?P<bold>[^*\n]+)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\n]+)_(?![\w_])"
)
_BULLET = re.compile(r"^\s*[-•]\s+")


def parse_inline(text: str) -> tuple[Span, ...]:
    """Spans of one line; anything that is not markup stays literal text."""
    spans: list[Span] = []
    pos = 0
    for match in _INLINE.finditer(text):
        if match.start() > pos:
            spans.append(Span(text[pos : match.start()]))
        if match.group("label") is not None:
            spans.append(Span(match.group("label"), link=match.group("url")))
        elif match.group("bold") is not None:
            spans.append(Span(match.group("bold"), bold=True))
        else:
            spans.append(Span(match.group("italic"), italic=True))
        pos = match.end()
    if pos < len(text):
        spans.append(Span(text[pos:]))
    return tuple(spans)


def parse_markup(text: str) -> Post:
    """Each non-empty line is a paragraph; consecutive "- " lines form a list."""
    blocks: list[Block] = []
    items: list[tuple[Span, ...]] = []
    for raw in text.strip().splitlines():
        line = raw.strip()
        if _BULLET.match(line):
            items.append(parse_inline(_BULLET.sub("", line)))
            continue
        if items:
            blocks.append(BulletList(tuple(items)))
            items = []
        if line:
            blocks.append(Paragraph(parse_inline(line)))
    if items:
        blocks.append(BulletList(tuple(items)))
    return Post(blocks=tuple(blocks))
