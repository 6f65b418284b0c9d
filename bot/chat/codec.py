"""Posts to and from JSON, so the outbox can keep them in SQLite."""

from __future__ import annotations

import functools
import json
from typing import Any

from bot.chat.model import Appeal, Block, BulletList, Button, Paragraph, Post, Quote, Span


def _span_out(s: Span) -> dict[str, Any]:
    out: dict[str, Any] = {"t": s.text}
    if s.bold:
        out["b"] = 1
    if s.italic:
        out["i"] = 1
    if s.code:
        out["c"] = 1
    if s.link:
        out["l"] = s.link
    return out


def _span_in(d: dict[str, Any]) -> Span:
    return Span(
        d["t"],
        bold=bool(d.get("b")),
        italic=bool(d.get("i")),
        code=bool(d.get("c")),
        link=d.get("l"),
    )


def _block_out(block: Block) -> dict[str, Any]:
    if isinstance(block, Paragraph):
        return {"p": [_span_out(s) for s in block.spans]}
    if isinstance(block, Quote):
        return {"q": [_span_out(s) for s in block.spans]}
    return {"ul" if not block.ordered else "ol": [[_span_out(s) for s in i] for i in block.items]}


def _block_in(d: dict[str, Any]) -> Block:
    if "p" in d:
        return Paragraph(tuple(_span_in(s) for s in d["p"]))
    if "q" in d:
        return Quote(tuple(_span_in(s) for s in d["q"]))
    ordered = "ol" in d
    items = d["ol"] if ordered else d["ul"]
    return BulletList(tuple(tuple(_span_in(s) for s in i) for i in items), ordered=ordered)


def post_to_json(post: Post) -> str:
    data: dict[str, Any] = {"blocks": [_block_out(b) for b in post.blocks]}
    if post.image_url:
        data["image"] = post.image_url
    if post.buttons:
        data["buttons"] = [
            [{"label": b.label, "command": b.command, "url": b.url} for b in row]
            for row in post.buttons
        ]
    if post.link_preview:
        data["preview"] = 1
    if post.pin:
        data["pin"] = 1
    if post.lang:
        data["lang"] = post.lang
    if post.appeal:
        data["appeal"] = {"campaign": post.appeal.campaign, "lang": post.appeal.lang}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=64)
def post_from_json(text: str) -> Post:
    """The post stored as `text`. Posts are immutable, so one object serves every row of a
    fan-out (read once, rendered once by the adapter)."""
    data = json.loads(text)
    return Post(
        blocks=tuple(_block_in(b) for b in data["blocks"]),
        image_url=data.get("image"),
        buttons=tuple(
            tuple(Button(b["label"], command=b["command"], url=b["url"]) for b in row)
            for row in data.get("buttons", [])
        ),
        link_preview=bool(data.get("preview")),
        pin=bool(data.get("pin")),
        lang=str(data.get("lang") or ""),
        appeal=Appeal(appeal["campaign"], appeal["lang"])
        if (appeal := data.get("appeal"))
        else None,
    )
