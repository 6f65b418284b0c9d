"""Plain text out of a feed's HTML fragments, and text cut to fit at a sentence.

`html_to_text` keeps the shape a reader sees (paragraphs, lines, list items)
and nothing else; `cut_text` shortens at the last sentence or word that fits.
"""

from __future__ import annotations

import enum
import html
import re
from collections.abc import Iterator, Sequence

import lxml.etree
import lxml.html

from bot.chat.text import truncate

# --- HTML to text ----------------------------------------------------------


class _Break(enum.Enum):
    SPACE = "space"
    LINE = "line"
    BR = "br"  # a line break, or a paragraph break when doubled
    PARAGRAPH = "paragraph"


_DROPPED_TAGS = frozenset({"script", "style", "noscript", "template", "head"})
_TAG_BREAKS = {
    "br": _Break.BR,
    **dict.fromkeys(("td", "th"), _Break.SPACE),
    **dict.fromkeys(("li", "tr", "dt", "dd", "figcaption"), _Break.LINE),
    **dict.fromkeys(
        (
            "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl",
            "blockquote", "pre", "table", "section", "article", "header", "footer",
            "aside", "nav", "main", "figure", "hr", "address", "details", "summary",
            "fieldset", "form",
        ),
        _Break.PARAGRAPH,
    ),
}  # fmt: skip


def html_to_text(html_fragment: str) -> str:
    """Plain text of an HTML fragment.

    Scripts and styles are dropped; block elements become paragraph breaks
    ("\\n\\n"), list items and `<br>` line breaks, and other whitespace
    collapses to single spaces.
    """
    if "<" not in html_fragment:
        return _TextBuilder.from_tokens([html.unescape(html_fragment)])
    return _TextBuilder.from_tokens(_tokens(parse_fragment(html_fragment)))


# Characters XML (hence lxml) refuses; feeds sometimes carry them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def parse_fragment(fragment: str) -> lxml.html.HtmlElement:
    """The fragment under a <div>, parsed by libxml2's forgiving HTML parser."""
    try:
        return lxml.html.fragment_fromstring(_CONTROL.sub("", fragment), create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return lxml.html.fragment_fromstring("", create_parent="div")


def _tokens(root: lxml.html.HtmlElement) -> Iterator[str | _Break]:
    """Text and breaks in document order (an explicit stack: feeds nest deeply)."""
    stack: list[lxml.html.HtmlElement | str | _Break] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, str | _Break):
            yield node
            continue
        if node is not root and node.tail:
            stack.append(node.tail)  # the text after an element comes after its end
        if not isinstance(node.tag, str):
            continue  # a comment or processing instruction: only its tail is text
        tag = node.tag.lower()
        if tag in _DROPPED_TAGS:
            continue
        brk = _TAG_BREAKS.get(tag)
        if brk is not None:
            yield brk
            if brk is not _Break.BR:  # the other breaks close the element too
                stack.append(brk)
        stack.extend(reversed(list(node)))
        if node.text:
            stack.append(node.text)


class _TextBuilder:
    """Assembles tokens into lines and paragraphs, collapsing whitespace."""

    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self.lines: list[str] = []
        self.buffer: list[str] = []

    @classmethod
    def from_tokens(cls, tokens: Iterator[str | _Break] | Sequence[str]) -> str:
        builder = cls()
        for token in tokens:
            if token is _Break.PARAGRAPH:
                builder.end_paragraph()
            elif token is _Break.LINE:
                builder.end_line()
            elif token is _Break.BR:
                builder.line_break()
            elif token is _Break.SPACE:
                builder.buffer.append(" ")
            else:
                builder.buffer.append(str(token))
        builder.end_paragraph()
        return "\n\n".join(builder.paragraphs)

    def end_line(self) -> None:
        line = " ".join("".join(self.buffer).split())
        self.buffer.clear()
        if line:
            self.lines.append(line)

    def line_break(self) -> None:
        # `text<br><br>text` is how many feeds write a paragraph break.
        if "".join(self.buffer).strip() or not self.lines:
            self.end_line()
        else:
            self.end_paragraph()

    def end_paragraph(self) -> None:
        self.end_line()
        if self.lines:
            self.paragraphs.append("\n".join(self.lines))
            self.lines.clear()


# --- cutting ---------------------------------------------------------------

# A sentence ends at terminal punctuation (Latin, CJK, Arabic/Urdu), maybe
# followed by closing quotes or brackets, then whitespace.
_SENTENCE_END = re.compile(r"[.!?…。！？۔؟][\"'»”’)\]]*(?=\s)")
_TRAILING_JUNK = " \t\n,;:-–—(["


def cut_text(text: str, limit: int) -> str:
    """`text` shortened to at most `limit` characters, ending with "…" when cut.

    Cuts after the last sentence (or line) that ends in the final third of
    the allowance, else at the last word boundary, else mid-word.
    """
    if limit < 2:
        raise ValueError("cut_text needs a limit of at least 2 characters")
    text = text.strip()
    if len(text) <= limit:
        return text
    room = limit - len(" …")
    # One character beyond the room shows whether a word ends exactly at it.
    window = text[: room + 1]
    floor = limit - limit // 3
    ends = [m.end() for m in _SENTENCE_END.finditer(window)]
    ends += [i for i, char in enumerate(window) if char == "\n"]
    sentence_end = max((e for e in ends if floor <= e <= room), default=None)
    if sentence_end is not None:
        return text[:sentence_end].rstrip() + " …"
    space = max((i for i, char in enumerate(window) if char.isspace()), default=0)
    head = text[:space].rstrip(_TRAILING_JUNK)
    if len(head) >= limit // 2:
        return head + "…"
    return truncate(text, limit, at_word=False)  # mid-word, but never mid-emoji
