"""Plain-text rendering of a Post: the console's output and Matrix's `body`."""

from __future__ import annotations

from bot.chat.model import BulletList, Button, Paragraph, Post, Quote, Span
from bot.i18n import Lang, lang_for


def lang_of(post: Post) -> Lang:
    """The language of the post's words: the adapters' own words around it follow it."""
    return lang_for(post.lang or None)


def spans_to_plain(spans: tuple[Span, ...]) -> str:
    out = []
    for s in spans:
        if s.link and s.link != s.text:
            out.append(f"{s.text} ({s.link})")
        else:
            out.append(s.text)
    return "".join(out)


def button_to_plain(button: Button, lang: Lang) -> str:
    if button.command is not None:
        # Translators: a button shown as text (console): "Confirm: send /confirm 3".
        return lang.gettext("{label}: send {command}", label=button.label, command=button.command)
    return f"{button.label}: {button.url}"


def render_plain(post: Post) -> str:
    """Paragraphs separated by blank lines; links as "text (url)"; buttons as text choices."""
    parts: list[str] = []
    for block in post.blocks:
        if isinstance(block, Paragraph):
            parts.append(spans_to_plain(block.spans))
        elif isinstance(block, Quote):
            parts.append("\n".join("> " + line for line in spans_to_plain(block.spans).split("\n")))
        elif isinstance(block, BulletList):
            lines = []
            for n, item in enumerate(block.items, start=1):
                marker = f"{n}." if block.ordered else "•"
                lines.append(f"{marker} {spans_to_plain(item)}")
            parts.append("\n".join(lines))
    if post.image_url:
        parts.append(lang_of(post).gettext("[image: {url}]", url=post.image_url))
    choices = [button_to_plain(b, lang_of(post)) for row in post.buttons for b in row]
    if choices:
        parts.append("\n".join("→ " + c for c in choices))
    return "\n\n".join(p for p in parts if p)
