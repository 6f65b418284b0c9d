"""Pure translation between the neutral chat model and Matrix, with no I/O.

Outgoing: a `Post` becomes `m.notice` content, a plain `body` plus
`org.matrix.custom.html`. Every piece of text is escaped; the HTML uses only
tags the Matrix spec suggests clients support (p, strong, em, code, a, ul, ol,
li, blockquote, br). Commands are shown the Matrix way, `!donate`, because
Matrix clients take a leading `/` as one of their own commands; the router
understands both. Matrix has no buttons, so button rows become text choices.

Incoming: a sync event becomes an `Incoming` (`to_incoming`), and a
homeserver error response becomes a neutral `ChatError` (`error_for`).
"""

from __future__ import annotations

import contextlib
import email.utils
import html
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from nio import InviteAliasEvent, InviteMemberEvent, MatrixRoom, RoomMemberEvent, RoomMessageText

from bot.chat.errors import ChatError, ChatGone, MaybeDelivered, RateLimited, Rejected
from bot.chat.model import (
    Block,
    BulletList,
    Button,
    ChatKind,
    ChatRef,
    Incoming,
    IncomingKind,
    Paragraph,
    Post,
    Quote,
    Sender,
    Span,
)
from bot.chat.plain import render_plain

PLATFORM = "matrix"
HTML_FORMAT = "org.matrix.custom.html"
# Synapse refuses events over 64 KiB; the rest of the event (ids, hashes,
# signatures, prev_events) needs room too.
MAX_CONTENT_BYTES = 60_000
ELLIPSIS = "…"
# The schemes the spec allows in `<a href>`; anything else is shown as text.
_LINK_SCHEMES = frozenset({"https", "http", "ftp", "mailto", "magnet"})
# A command word on its own: "/help" at the start or after a space, ending the word.
_COMMAND = re.compile(r"(?<![^\s(\"'«“])/([A-Za-z][A-Za-z0-9_]{0,31})(?=$|[\s.,;:!?)\"'»”])")

DEFAULT_RETRY_AFTER = 5.0
# Not in the room, banned, not allowed to post, no such room or alias.
_GONE_CODES = frozenset({"M_FORBIDDEN", "M_NOT_FOUND"})

Content = dict[str, Any]


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


def _choice_html(button: Button) -> str:
    label = _text_html(button.label)
    if button.url is not None:
        return f'<a href="{html.escape(button.url, quote=True)}">{label}</a>'
    return f"{label}: reply <code>{_text_html(button.command or '')}</code>"


def _choice_plain(button: Button) -> str:
    if button.url is not None:
        return f"{button.label}: {button.url}"
    return f"{button.label}: reply {button.command}"


def render_html(post: Post) -> str:
    """The `formatted_body` of a post already passed through `for_matrix`."""
    parts = [_block_html(b) for b in post.blocks]
    if post.image_url:
        parts.append(f'<p><a href="{html.escape(post.image_url, quote=True)}">Image</a></p>')
    choices = [_choice_html(b) for row in post.buttons for b in row]
    if choices:
        parts.append("<p>" + "<br>".join("→ " + c for c in choices) + "</p>")
    return "".join(parts)


def render_body(post: Post) -> str:
    """The plain `body` of a post already passed through `for_matrix`."""
    text = render_plain(replace(post, buttons=()))
    choices = [_choice_plain(b) for row in post.buttons for b in row]
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
        cut = s.text[:budget]
        # Prefer to end at a word boundary when one is near.
        if " " in cut[len(cut) // 2 :]:
            cut = cut[: cut.rindex(" ")]
        kept.append(replace(s, text=cut.rstrip() + ELLIPSIS))
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


def fit(
    post: Post, build: Callable[[Post], Content], max_bytes: int = MAX_CONTENT_BYTES
) -> Content:
    """`build(post)`, cut gracefully (text first, then buttons) until it is under `max_bytes`.

    Raises ValueError when even an empty post does not fit.
    """
    content = build(post)
    if content_size(content) <= max_bytes:
        return content
    for candidate in (post, replace(post, buttons=())):
        if content_size(build(clip(candidate, 0))) > max_bytes:
            continue
        low, high = 0, sum(len(s.text) for s in _all_spans(candidate))
        while low < high:  # the most text that still fits
            mid = (low + high + 1) // 2
            if content_size(build(clip(candidate, mid))) <= max_bytes:
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


def message_content(post: Post, *, reply_to: str | None = None) -> Content:
    """The content of a new message, a Matrix reply when `reply_to` names an event."""

    def build(p: Post) -> Content:
        content = notice(p)
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        return content

    return fit(for_matrix(post), build)


def edit_content(post: Post, event_id: str) -> Content:
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

    return fit(for_matrix(post), build)


# --- incoming events and errors ---------------------------------------------------


def chat_kind(room: MatrixRoom) -> ChatKind:
    """PRIVATE for an unnamed room of exactly two members (what clients create for a
    direct message), GROUP for every other room."""
    return ChatKind.PRIVATE if room.joined_count == 2 and not room.is_named else ChatKind.GROUP


def _chat(room: MatrixRoom) -> ChatRef:
    return ChatRef(PLATFORM, room.room_id, chat_kind(room), room.display_name)


def _without_reply_fallback(body: str) -> str:
    # Older clients quote the replied-to message as "> " lines, then a blank line.
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    rest = lines[next((i for i, line in enumerate(lines) if not line.startswith(">")), 0) :]
    return "\n".join(rest).lstrip("\n")


def to_incoming(event: Any, room: MatrixRoom, own_user_id: str) -> Incoming | None:
    """A sync event as an `Incoming`, or None for everything the bot does not act on.

    Text messages from people (not `m.notice`, not edits, not our own) become
    messages with the command left in the text; the bot's own leave or ban
    becomes BOT_REMOVED.
    """
    if isinstance(event, RoomMemberEvent):
        # Not after a declined invite: the bot was never in that room.
        removed = event.membership in ("leave", "ban") and event.prev_membership not in (
            "invite",
            "leave",
            "ban",
        )
        if event.state_key == own_user_id and removed:
            sender = Sender(PLATFORM, event.sender)
            return Incoming(_chat(room), sender, kind=IncomingKind.BOT_REMOVED)
        return None
    if not isinstance(event, RoomMessageText) or event.sender == own_user_id:
        return None
    relation = event.source.get("content", {}).get("m.relates_to") or {}
    if relation.get("rel_type") == "m.replace":
        return None  # an edit of an earlier message: running it again would repeat it
    body = event.body
    if relation.get("m.in_reply_to"):
        body = _without_reply_fallback(body)
    sender = Sender(PLATFORM, event.sender, room.user_name(event.sender) or "")
    return Incoming(_chat(room), sender, body, message_id=event.event_id)


def after_own_join(events: Sequence[Any], own_user_id: str) -> list[Any]:
    """The events after the bot's own (new) join: what came before is history, not ours."""
    start = 0
    for i, event in enumerate(events):
        if (
            isinstance(event, RoomMemberEvent)
            and event.state_key == own_user_id
            and event.membership == "join"
            and event.prev_membership != "join"
        ):
            start = i + 1
    return list(events[start:])


@dataclass(frozen=True, slots=True)
class InviteDecision:
    accept: bool
    reason: str
    inviter: str = ""


def invite_decision(
    invite_state: Sequence[Any],
    room_id: str,
    own_user_id: str,
    configured: set[str],
    admins: frozenset[str],
) -> InviteDecision:
    """Join configured rooms (by id or alias), rooms an admin invites the bot to, and
    direct chats anyone opens with it (private commands such as /subscribe need one)."""
    ours = next(
        (
            e
            for e in invite_state
            if isinstance(e, InviteMemberEvent) and e.state_key == own_user_id
        ),
        None,
    )
    alias = next((e.canonical_alias for e in invite_state if isinstance(e, InviteAliasEvent)), None)
    inviter = ours.sender if ours is not None else ""
    if room_id in configured or (alias is not None and alias in configured):
        return InviteDecision(True, "a configured room", inviter)
    if inviter in admins:
        return InviteDecision(True, "from an admin", inviter)
    if ours is not None and ours.content.get("is_direct"):
        return InviteDecision(True, "a direct chat", inviter)
    return InviteDecision(False, "not configured, not from an admin, not a direct chat", inviter)


def left_alone(events: Sequence[Any], room: MatrixRoom, own_user_id: str) -> bool:
    """Someone left in these events, and now the bot is the room's only member."""
    someone_left = any(
        isinstance(e, RoomMemberEvent)
        and e.state_key != own_user_id
        and e.membership in ("leave", "ban")
        for e in events
    )
    return someone_left and room.joined_count == 1 and room.invited_count == 0


def _retry_after(resp: Any) -> float:
    """Seconds to wait: the Retry-After header first, then `retry_after_ms`.

    nio keeps the aiohttp response on `transport_response`, so the header is
    still readable after nio has parsed the body.
    """
    transport = getattr(resp, "transport_response", None)
    header = transport.headers.get("Retry-After") if transport is not None else None
    if header:
        with contextlib.suppress(ValueError):
            return max(0.0, float(header))
        with contextlib.suppress(TypeError, ValueError):
            moment = email.utils.parsedate_to_datetime(header)
            return max(0.0, moment.timestamp() - time.time())
    if getattr(resp, "retry_after_ms", None):
        return float(resp.retry_after_ms) / 1000
    return DEFAULT_RETRY_AFTER


def error_for(resp: Any) -> ChatError:
    """The neutral error for a nio error response."""
    transport = getattr(resp, "transport_response", None)
    status = transport.status if transport is not None else 0
    code = resp.status_code if isinstance(resp.status_code, str) else ""
    text = f"{code or status}: {resp.message}"
    if code == "M_LIMIT_EXCEEDED" or status == 429:
        return RateLimited(_retry_after(resp), text)
    # Without an error code (a proxy's page), the status says what happened.
    if code in _GONE_CODES or (not code and status in (403, 404)):
        return ChatGone(text)
    if status >= 500:
        return MaybeDelivered(text)  # the server got the request; it may have been stored
    return Rejected(text)
