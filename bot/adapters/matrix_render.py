"""Pure translation between the neutral chat model and Matrix, with no I/O.

A `Post` becomes `m.notice` content, a plain `body` plus
`org.matrix.custom.html`. Every piece of text is escaped; the HTML uses only
tags the Matrix spec suggests clients support (p, strong, em, code, a, ul, ol,
li, blockquote, br). Commands are shown the Matrix way, `!donate`, because
Matrix clients take a leading `/` as one of their own commands; the router
understands both. Matrix has no buttons, so button rows become text choices.

What comes back from Matrix (events, invites, errors) is `matrix_map`'s.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from bot.chat.model import Block, BulletList, Button, Paragraph, Post, Quote, Span
from bot.chat.plain import lang_of, render_plain
from bot.chat.text import ELLIPSIS, cut
from bot.i18n import N_, Lang

HTML_FORMAT = "org.matrix.custom.html"
# Synapse refuses events over 64 KiB; the rest of the event (ids, hashes,
# signatures, prev_events) needs room too.
MAX_CONTENT_BYTES = 60_000
# In an encrypted room the event carries Megolm ciphertext instead: see `encrypted_size`.
_PAYLOAD_EXTRA = 150  # the room id and event type encrypted beside the content
_MEGOLM_EXTRA = 100  # version, index and length fields, block padding, MAC, signature
_ENVELOPE_EXTRA = 300  # algorithm, sender key, session id, device id
# The schemes the spec allows in `<a href>`; anything else is shown as text.
_LINK_SCHEMES = frozenset({"https", "http", "ftp", "mailto", "magnet"})
# A command word on its own: "/help" at the start or after a space, ending the word.
_COMMAND = re.compile(r"(?<![^\s(\"'«“])/([A-Za-z][A-Za-z0-9_]{0,31})(?=$|[\s.,;:!?)\"'»”])")

Content = dict[str, Any]

# Small syncs: no presence, typing or receipts; member lists loaded lazily,
# which also makes the server send each room's member counts.
SYNC_FILTER: Content = {
    "presence": {"types": []},
    "room": {
        "timeline": {"limit": 100},
        "state": {"lazy_load_members": True},
        "ephemeral": {"types": []},
    },
}


def matrix_commands(text: str) -> str:
    """`/help` → `!help` wherever a whole word is a command; paths and URLs stay as they are."""
    return _COMMAND.sub(r"!\1", text)


def safe_link(url: str | None) -> str | None:
    """The URL if a Matrix client may link it, else None."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in _LINK_SCHEMES else None


def _span(s: Span) -> Span:
    link = safe_link(s.link)
    text = s.text if link else matrix_commands(s.text)
    return replace(s, text=text, link=link)


def _spans(spans: tuple[Span, ...]) -> tuple[Span, ...]:
    return tuple(_span(s) for s in spans)


def _block(block: Block) -> Block:
    if isinstance(block, BulletList):
        return replace(block, items=tuple(_spans(item) for item in block.items))
    return replace(block, spans=_spans(block.spans))


def _button(button: Button) -> Button | None:
    if button.command is not None:
        return Button(button.label, command=matrix_commands(button.command))
    link = safe_link(button.url)
    return Button(button.label, url=link) if link else None


def for_matrix(post: Post) -> Post:
    """The post with Matrix-style commands and only linkable links."""
    return replace(
        post,
        blocks=tuple(_block(b) for b in post.blocks),
        image_url=safe_link(post.image_url),
        buttons=tuple(
            row for row in (tuple(filter(None, map(_button, r))) for r in post.buttons) if row
        ),
    )


# --- HTML -----------------------------------------------------------------------


def _text_html(text: str) -> str:
    return html.escape(text, quote=False).replace("\n", "<br>")


def _span_html(s: Span) -> str:
    out = _text_html(s.text)
    if s.code:
        out = f"<code>{out}</code>"
    if s.italic:
        out = f"<em>{out}</em>"
    if s.bold:
        out = f"<strong>{out}</strong>"
    if s.link:
        out = f'<a href="{html.escape(s.link, quote=True)}">{out}</a>'
    return out


def _spans_html(spans: tuple[Span, ...]) -> str:
    return "".join(_span_html(s) for s in spans)


def _block_html(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{_spans_html(block.spans)}</p>"
    if isinstance(block, Quote):
        return f"<blockquote>{_spans_html(block.spans)}</blockquote>"
    tag = "ol" if block.ordered else "ul"
    items = "".join(f"<li>{_spans_html(item)}</li>" for item in block.items)
    return f"<{tag}>{items}</{tag}>"


# Translators: a button shown as text in Matrix: "Confirm: reply !confirm 3".
REPLY_HINT = N_("{label}: reply {command}")


def _choice_html(button: Button, lang: Lang) -> str:
    label = _text_html(button.label)
    if button.url is not None:
        return f'<a href="{html.escape(button.url, quote=True)}">{label}</a>'
    command = f"<code>{_text_html(button.command or '')}</code>"
    return _text_html(lang.gettext(REPLY_HINT)).format(label=label, command=command)


def _choice_plain(button: Button, lang: Lang) -> str:
    if button.url is not None:
        return f"{button.label}: {button.url}"
    return lang.gettext(REPLY_HINT, label=button.label, command=button.command)


def render_html(post: Post) -> str:
    """The `formatted_body` of a post already passed through `for_matrix`."""
    lang = lang_of(post)
    parts = [_block_html(b) for b in post.blocks]
    if post.image_url:
        image = _text_html(lang.gettext("Image"))
        parts.append(f'<p><a href="{html.escape(post.image_url, quote=True)}">{image}</a></p>')
    choices = [_choice_html(b, lang) for row in post.buttons for b in row]
    if choices:
        parts.append("<p>" + "<br>".join("→ " + c for c in choices) + "</p>")
    return "".join(parts)


def render_body(post: Post) -> str:
    """The plain `body` of a post already passed through `for_matrix`."""
    text = render_plain(replace(post, buttons=()))
    choices = [_choice_plain(b, lang_of(post)) for row in post.buttons for b in row]
    if choices:
        text = "\n\n".join(p for p in (text, "\n".join("→ " + c for c in choices)) if p)
    return text


# --- content and size -------------------------------------------------------------


def notice(post: Post) -> Content:
    """An `m.notice` (bots send notices, so other bots do not answer them)."""
    return {
        "msgtype": "m.notice",
        "body": render_body(post),
        "format": HTML_FORMAT,
        "formatted_body": render_html(post),
    }


def content_size(content: Content) -> int:
    """Bytes of the content as the server stores it (canonical JSON, UTF-8)."""
    return len(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode())


def _clip_spans(spans: tuple[Span, ...], budget: int) -> tuple[tuple[Span, ...], int]:
    kept: list[Span] = []
    for s in spans:
        if len(s.text) <= budget:
            kept.append(s)
            budget -= len(s.text)
            continue
        # Whole grapheme clusters only, ending at a word boundary when one is near.
        kept.append(replace(s, text=cut(s.text, budget) + ELLIPSIS))
        return tuple(kept), -1
    return tuple(kept), budget


def clip(post: Post, chars: int) -> Post:
    """The post with at most about `chars` characters of block text, cut with an ellipsis."""
    blocks: list[Block] = []
    budget = chars
    for block in post.blocks:
        if isinstance(block, BulletList):
            items = []
            for item in block.items:
                spans, budget = _clip_spans(item, budget)
                items.append(spans)
                if budget < 0:
                    break
            blocks.append(replace(block, items=tuple(items)))
        else:
            spans, budget = _clip_spans(block.spans, budget)
            blocks.append(replace(block, spans=spans))
        if budget < 0:
            break
    return replace(post, blocks=tuple(blocks))


def encrypted_size(content: Content) -> int:
    """The size of the encrypted event's content for this content, as nio encrypts it:
    JSON with every non-ASCII character escaped (an emoji takes 12 bytes), Megolm
    framing, then base64 (4/3)."""
    plain = len(json.dumps(content, separators=(",", ":"))) + _PAYLOAD_EXTRA + _MEGOLM_EXTRA
    return -(-plain * 4 // 3) + _ENVELOPE_EXTRA


def fit(
    post: Post,
    build: Callable[[Post], Content],
    max_bytes: int = MAX_CONTENT_BYTES,
    measure: Callable[[Content], int] = content_size,
) -> Content:
    """`build(post)`, cut gracefully (text first, then buttons) until it is under `max_bytes`.

    Raises ValueError when even an empty post does not fit.
    """
    content = build(post)
    if measure(content) <= max_bytes:
        return content
    for candidate in (post, replace(post, buttons=())):
        if measure(build(clip(candidate, 0))) > max_bytes:
            continue
        low, high = 0, sum(len(s.text) for s in _all_spans(candidate))
        while low < high:  # the most text that still fits
            mid = (low + high + 1) // 2
            if measure(build(clip(candidate, mid))) <= max_bytes:
                low = mid
            else:
                high = mid - 1
        return build(clip(candidate, low))
    raise ValueError("the post does not fit in a Matrix event even without its text")


def _all_spans(post: Post) -> list[Span]:
    spans: list[Span] = []
    for block in post.blocks:
        if isinstance(block, BulletList):
            spans.extend(s for item in block.items for s in item)
        else:
            spans.extend(block.spans)
    return spans


def message_content(post: Post, *, reply_to: str | None = None, encrypted: bool = False) -> Content:
    """The content of a new message, a Matrix reply when `reply_to` names an event; cut to
    fit one event, encrypted or not."""

    def build(p: Post) -> Content:
        content = notice(p)
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        return content

    return fit(for_matrix(post), build, measure=encrypted_size if encrypted else content_size)


def edit_content(post: Post, event_id: str, *, encrypted: bool = False) -> Content:
    """An `m.replace` edit of `event_id`, with the `* ` fallback for clients without edits."""

    def build(p: Post) -> Content:
        new = notice(p)
        return {
            **new,
            "body": "* " + new["body"],
            "formatted_body": "* " + new["formatted_body"],
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        }

    return fit(for_matrix(post), build, measure=encrypted_size if encrypted else content_size)


def image_content(content_uri: str, png: bytes) -> Content:
    """An `m.image` of an uploaded PNG (a generated progress card)."""
    return {
        "msgtype": "m.image",
        "body": "card.png",
        "url": content_uri,
        "info": {"mimetype": "image/png", "size": len(png)},
    }


def encrypted_image_content(file: Content, png: bytes) -> Content:
    """An `m.image` of a PNG uploaded encrypted: `file` (URL and key) instead of `url`."""
    return {
        "msgtype": "m.image",
        "body": "card.png",
        "file": file,
        "info": {"mimetype": "image/png", "size": len(png)},
    }


def pinned_content(current: Content, event_id: str) -> Content:
    """The room's `m.room.pinned_events` content with `event_id` pinned last."""
    pinned = [e for e in current.get("pinned", []) if isinstance(e, str) and e != event_id]
    return {"pinned": [*pinned, event_id]}
