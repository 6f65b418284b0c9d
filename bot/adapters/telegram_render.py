"""Rendering a neutral Post as Telegram Bot API payloads (pure; no network, no PTB).

Telegram takes a small HTML subset (b, i, code, a href, blockquote, ...);
everything else is escaped, so feed text can never inject markup. Lengths are
counted the way Telegram counts them: UTF-16 code units of the visible text
(after entity parsing), 4096 for a message and 1024 for a photo caption. Text
that does not fit is cut on the plain text before any markup is added, so a cut
can never leave a tag open.
"""

from __future__ import annotations

import hashlib
import html
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from bot.chat import BulletList, Button, Paragraph, PlatformLimits, Post, Quote, Span
from bot.chat.text import ELLIPSIS, cut, utf16_len

__all__ = [
    "CALLBACK_PREFIX",
    "SEND_MESSAGE",
    "SEND_PHOTO",
    "TELEGRAM_LIMITS",
    "ButtonTokens",
    "InlineButton",
    "Payload",
    "callback_data_for",
    "keyboard",
    "render",
    "render_caption",
    "span_html",
    "utf16_len",
]

TELEGRAM_LIMITS = PlatformLimits(
    text_max=4096,  # UTF-16 units of visible text
    caption_max=1024,
    global_rate=30.0,  # messages per second across all chats
    per_chat_interval=3.0,  # 20 messages a minute in a group or channel
    private_interval=1.0,
    burst=1.0,
)
SEND_MESSAGE: Literal["sendMessage"] = "sendMessage"
SEND_PHOTO: Literal["sendPhoto"] = "sendPhoto"
CALLBACK_DATA_MAX = 64  # bytes of UTF-8, Telegram's limit for callback_data
CALLBACK_PREFIX = "c:"
EMPTY_TEXT = "…"  # Telegram refuses an empty message; a post without text still sends
_BLOCK_SEPARATOR = "\n\n"
_LINK_SCHEMES = ("http", "https", "tg", "mailto")
# Less than this much of a cut block reads worse than ending at the paragraph before it.
_MIN_PARTIAL = 40
# Tokens kept for long button commands; the oldest are forgotten first.
_MAX_BUTTON_TOKENS = 10_000


@dataclass(frozen=True, slots=True)
class InlineButton:
    """One inline keyboard button: opens `url` or sends `callback_data` back."""

    label: str
    url: str | None = None
    callback_data: str | None = None


@dataclass(frozen=True, slots=True)
class Payload:
    """One Bot API call: `html` is the message text or the photo caption."""

    method: Literal["sendMessage", "sendPhoto"]
    html: str
    photo: str | bytes | None = None  # a URL, or a generated picture (PNG bytes)
    keyboard: tuple[tuple[InlineButton, ...], ...] = ()
    link_preview: bool = False


@dataclass(frozen=True, slots=True)
class _Block:
    """A rendered block: spans (list markers and line breaks included) and a quote flag."""

    spans: tuple[Span, ...]
    quote: bool = False

    @property
    def length(self) -> int:
        return sum(utf16_len(s.text) for s in self.spans)


def callback_data_for(command: str) -> str:
    """The callback_data for a command button: the command itself, or a short stable token.

    Tokens (`c:` + a SHA-1 prefix) stand for commands over 64 bytes; the
    adapter keeps the token -> command mapping.
    """
    if len(command.encode()) <= CALLBACK_DATA_MAX and not command.startswith(CALLBACK_PREFIX):
        return command
    return CALLBACK_PREFIX + hashlib.sha1(command.encode(), usedforsecurity=False).hexdigest()[:20]


class ButtonTokens:
    """Which command each token stands for, for the button presses that send one back."""

    def __init__(self, keep: int = _MAX_BUTTON_TOKENS) -> None:
        self._keep = keep
        self._commands: OrderedDict[str, str] = OrderedDict()

    def remember(self, post: Post) -> None:
        """Note the tokens of the post's command buttons (a command that fits needs none)."""
        for row in post.buttons:
            for button in row:
                if button.command is None:
                    continue
                data = callback_data_for(button.command)
                if data != button.command:
                    self._commands[data] = button.command
                    self._commands.move_to_end(data)
        while len(self._commands) > self._keep:
            self._commands.popitem(last=False)

    def command_for(self, data: str) -> str | None:
        """The command a press sent back; None for a token no longer (or never) known."""
        if not data.startswith(CALLBACK_PREFIX):
            return data or None
        command = self._commands.get(data)
        if command is not None:
            self._commands.move_to_end(data)
        return command


def _linkable(url: str) -> bool:
    return urlsplit(url).scheme.lower() in _LINK_SCHEMES


def span_html(s: Span) -> str:
    """One span as Telegram HTML; text escaped, the href escaped as an attribute."""
    if not s.text:
        return ""
    text = html.escape(s.text, quote=False)
    if s.link and _linkable(s.link):
        # Telegram lets bold/italic sit inside a link, but not code.
        inner = _styled(text, s)
        return f'<a href="{html.escape(s.link, quote=True)}">{inner}</a>'
    if s.code:
        return f"<code>{text}</code>"
    return _styled(text, s)


def _styled(text: str, s: Span) -> str:
    if s.italic:
        text = f"<i>{text}</i>"
    if s.bold:
        text = f"<b>{text}</b>"
    return text


def _block_of(block: Paragraph | BulletList | Quote) -> _Block:
    if isinstance(block, Paragraph):
        return _Block(block.spans)
    if isinstance(block, Quote):
        return _Block(block.spans, quote=True)
    spans: list[Span] = []
    for n, item in enumerate(block.items, start=1):
        if spans:
            spans.append(Span("\n"))
        spans.append(Span(f"{n}. " if block.ordered else "• "))
        spans.extend(item)
    return _Block(tuple(spans))


def _blocks(post: Post) -> list[_Block]:
    return [b for b in (_block_of(block) for block in post.blocks) if b.length > 0]


def _total(blocks: list[_Block]) -> int:
    return sum(b.length for b in blocks) + utf16_len(_BLOCK_SEPARATOR) * max(0, len(blocks) - 1)


def _cut_block(block: _Block, room: int) -> _Block:
    kept: list[Span] = []
    used = 0
    for s in block.spans:
        size = utf16_len(s.text)
        if used + size <= room:
            kept.append(s)
            used += size
            continue
        part = cut(s.text, room - used, measure=utf16_len)
        if part:
            kept.append(Span(part, bold=s.bold, italic=s.italic, code=s.code, link=s.link))
        break
    return _Block(tuple(kept), block.quote)


def _fit(blocks: list[_Block], budget: int) -> list[_Block]:
    """Blocks cut to `budget` visible UTF-16 units, ending with "…" when anything was cut."""
    if _total(blocks) <= budget:
        return blocks
    separator = utf16_len(_BLOCK_SEPARATOR)
    room = budget - separator - utf16_len(ELLIPSIS)  # room for "…" as a paragraph of its own
    out: list[_Block] = []
    used = 0
    for block in blocks:
        gap = separator if out else 0
        if used + gap + block.length <= room:
            out.append(block)
            used += gap + block.length
            continue
        left = room - used - gap
        if left >= _MIN_PARTIAL or not out:
            partial = _cut_block(block, left)
            if partial.spans:
                # A cut inside a block ends with "…" right after the last word.
                return [*out, _Block((*partial.spans, Span(ELLIPSIS)), partial.quote)]
        break
    return [*out, _Block((Span(ELLIPSIS),))]


def _blocks_html(blocks: list[_Block]) -> str:
    """Blocks as Telegram HTML, separated by a blank line."""
    parts = []
    for block in blocks:
        inner = "".join(span_html(s) for s in block.spans)
        parts.append(f"<blockquote>{inner}</blockquote>" if block.quote else inner)
    return _BLOCK_SEPARATOR.join(parts)


def keyboard(rows: tuple[tuple[Button, ...], ...]) -> tuple[tuple[InlineButton, ...], ...]:
    """Button rows as inline keyboard rows (url buttons, or callback_data for commands)."""
    out = []
    for row in rows:
        buttons = tuple(
            InlineButton(b.label, url=b.url)
            if b.url is not None
            else InlineButton(b.label, callback_data=callback_data_for(b.command or ""))
            for b in row
        )
        if buttons:
            out.append(buttons)
    return tuple(out)


def render(post: Post, limits: PlatformLimits) -> list[Payload]:
    """The Bot API calls that show `post`: one message, one photo, or a photo then a message.

    The keyboard goes on the last call. Nothing returned exceeds Telegram's
    length limits, whatever the post holds.
    """
    blocks = _blocks(post)
    buttons = keyboard(post.buttons)
    image = post.image_png if post.image_png is not None else post.image_url
    if image is None:
        text = _blocks_html(_fit(blocks, limits.text_max)) or EMPTY_TEXT
        return [Payload(SEND_MESSAGE, text, keyboard=buttons, link_preview=post.link_preview)]
    if _total(blocks) <= limits.caption_max:
        return [Payload(SEND_PHOTO, _blocks_html(blocks), photo=image, keyboard=buttons)]
    # Too long for a caption: the title (the first block, when it fits) under the photo,
    # the rest as a message. No preview there: the photo already shows the image.
    caption: list[_Block] = []
    body = blocks
    if len(blocks) > 1 and blocks[0].length <= limits.caption_max:
        caption, body = blocks[:1], blocks[1:]
    return [
        Payload(SEND_PHOTO, _blocks_html(caption), photo=image),
        Payload(SEND_MESSAGE, _blocks_html(_fit(body, limits.text_max)), keyboard=buttons),
    ]


def render_caption(post: Post, limits: PlatformLimits) -> str:
    """The whole post cut to a caption, for editing a photo message."""
    return _blocks_html(_fit(_blocks(post), limits.caption_max))
