"""Plain text from the HTML fragments feeds carry (summaries, content, some titles).

libxml2's forgiving HTML parser reads the fragment; the text is walked out of the tree
with paragraph and line breaks where the blocks were. A fragment is parsed once per
entry (`FragmentTrees`) for its text and its first image.
"""

from __future__ import annotations

import enum
import html
import re

import lxml.etree
import lxml.html

__all__ = ["FragmentTrees", "html_to_text", "parse_fragment"]


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


def html_to_text(html_fragment: str, trees: FragmentTrees | None = None) -> str:
    """Plain text of an HTML fragment.

    Scripts and styles are dropped; block elements become paragraph breaks
    ("\\n\\n"), list items and `<br>` line breaks, and other whitespace
    collapses to single spaces.
    """
    if "<" not in html_fragment:
        return _TextBuilder.from_text(html.unescape(html_fragment))
    tree = trees.parse(html_fragment) if trees is not None else parse_fragment(html_fragment)
    return _tree_text(tree)


# Characters XML (hence lxml) refuses; feeds sometimes carry them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def parse_fragment(fragment: str) -> lxml.html.HtmlElement:
    """The fragment as the <body> of a document parsed by libxml2's forgiving HTML parser.

    What `lxml.html.fragment_fromstring` does, without its Python-level re-wrapping of
    the body's children under a new parent (half the cost of a summary's parse).
    """
    document = f"<html><body>{_CONTROL.sub('', fragment)}</body></html>"
    try:
        root = lxml.etree.fromstring(document, lxml.html.html_parser)
    except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError, ValueError):
        root = None
    body = root.find("body") if root is not None else None
    if isinstance(body, lxml.html.HtmlElement):
        return body
    return lxml.html.fragment_fromstring("", create_parent="div")


class FragmentTrees:
    """Fragments parsed so far for one entry (read-only trees, shared by text and images)."""

    __slots__ = ("_parsed",)

    def __init__(self) -> None:
        self._parsed: dict[str, lxml.html.HtmlElement] = {}

    def parse(self, fragment: str) -> lxml.html.HtmlElement:
        tree = self._parsed.get(fragment)
        if tree is None:
            tree = self._parsed[fragment] = parse_fragment(fragment)
        return tree


def _tree_text(root: lxml.html.HtmlElement) -> str:
    """The text of a parsed fragment, walked in document order (an explicit stack:
    feeds nest deeply), breaks given to the builder as they come."""
    builder = _TextBuilder()
    buffer = builder.buffer
    stack: list[lxml.html.HtmlElement | str | _Break] = [root]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if isinstance(node, str):
            buffer.append(node)
            continue
        if isinstance(node, _Break):
            builder.add_break(node)
            continue
        if node is not root and node.tail:
            push(node.tail)  # the text after an element comes after its end
        tag = node.tag
        if not isinstance(tag, str):
            continue  # a comment or processing instruction: only its tail is text
        tag = tag.lower()
        if tag in _DROPPED_TAGS:
            continue
        brk = _TAG_BREAKS.get(tag)
        if brk is not None:
            builder.add_break(brk)
            if brk is not _Break.BR:  # the other breaks close the element too
                push(brk)
        if len(node):
            stack.extend(reversed(node))
        if node.text:
            push(node.text)
    return builder.finish()


class _TextBuilder:
    """Assembles tokens into lines and paragraphs, collapsing whitespace."""

    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self.lines: list[str] = []
        self.buffer: list[str] = []

    @classmethod
    def from_text(cls, text: str) -> str:
        builder = cls()
        builder.buffer.append(text)
        return builder.finish()

    def add_break(self, brk: _Break) -> None:
        if brk is _Break.PARAGRAPH:
            self.end_paragraph()
        elif brk is _Break.LINE:
            self.end_line()
        elif brk is _Break.BR:
            self.line_break()
        else:
            self.buffer.append(" ")

    def finish(self) -> str:
        self.end_paragraph()
        return "\n\n".join(self.paragraphs)

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
