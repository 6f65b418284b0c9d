"""Telegram's HTML parse mode as the Bot API reads it: the allowed tags, entities, lengths."""

from __future__ import annotations

import html
import re

# Tag -> attributes it may carry (Telegram's HTML parse mode).
ALLOWED_TAGS: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        ("b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "pre", "tg-spoiler"),
        frozenset(),
    ),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "blockquote": frozenset({"expandable"}),
    "span": frozenset({"class"}),
}
_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*>"
)
_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);")


class EntityError(ValueError):
    """The text is not valid Telegram HTML."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _open_tag(name: str, attrs: str, stack: list[str], at: int) -> None:
    if name not in ALLOWED_TAGS:
        raise EntityError(f'Unsupported start tag "{name}" at byte offset {at}')
    if stack and stack[-1] in ("code", "pre") and not (stack[-1] == "pre" and name == "code"):
        raise EntityError(f'Entities can\'t be nested inside "{stack[-1]}"')
    if name == "blockquote" and "blockquote" in stack:
        raise EntityError("Blockquote entities can't be nested")
    found = {m[1].lower(): html.unescape(m[2] or m[3] or m[4] or "") for m in _ATTR.finditer(attrs)}
    if set(found) - ALLOWED_TAGS[name]:
        raise EntityError(f'Unsupported attribute in tag "{name}" at byte offset {at}')
    if name == "a" and not found.get("href"):
        raise EntityError(f"Can't find href attribute at byte offset {at}")
    if name == "span" and found.get("class") != "tg-spoiler":
        raise EntityError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
    stack.append(name)


def parse_html(text: str) -> str:
    """The visible text of Telegram HTML; raises EntityError where Telegram would refuse it."""
    visible: list[str] = []
    stack: list[str] = []
    pos = 0
    while (at := _next_markup(text, pos)) >= 0:
        visible.append(text[pos:at])
        if text[at] == "&":
            entity = _ENTITY.match(text, at)
            if entity is None:
                raise EntityError(f"Unsupported HTML entity at byte offset {at}")
            visible.append(html.unescape(entity[0]))
            pos = entity.end()
            continue
        tag = _TAG.match(text, at)
        if tag is None:
            raise EntityError(f"Unsupported start tag at byte offset {at}")
        closing, name = tag[1] == "/", tag[2].lower()
        if not closing:
            _open_tag(name, tag[3], stack, at)
        elif not stack or stack[-1] != name:
            raise EntityError(f'Unexpected end tag "{name}" at byte offset {at}')
        else:
            stack.pop()
        pos = tag.end()
    if stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(visible) + text[pos:]


def _next_markup(text: str, pos: int) -> int:
    found = [i for i in (text.find("<", pos), text.find("&", pos)) if i >= 0]
    return min(found) if found else -1


def visible_text(text: str, parse_mode: object) -> str:
    """What a reader sees of `text`; raises EntityError where Telegram would refuse it."""
    return parse_html(text) if parse_mode == "HTML" else text
