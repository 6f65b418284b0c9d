"""Turn a fetched RSS/Atom/RDF document into plain-text `Article`s.

Synchronous and CPU-bound: the caller runs `parse_feed` in a worker thread.
Nothing from a feed leaves this module as markup: titles, summaries and
authors are plain text, and every URL is an absolute http(s) URL.
"""

from __future__ import annotations

import calendar
import functools
import re
import time
import xml.sax
from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import feedparser

from bot.chat.text import truncate
from bot.feeds.article import Article, canonical_url, text_hash
from bot.feeds.html_text import FragmentTrees, html_to_text

SUMMARY_MAX = 600

# feedparser hands back dicts of loosely typed values; this is the view the
# rest of the module works with, narrowed by the small accessors below.
Entry = Mapping[str, object]


class NotAFeed(Exception):
    """The document is not an RSS, Atom or RDF feed (an HTML page, JSON, junk)."""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed's title and site link, and its articles in the order the feed gives them."""

    title: str
    link: str
    articles: tuple[Article, ...]
    # WebSub: the hub the publisher pings (`<link rel="hub">`) and the feed's own
    # address as the hub knows it (`rel="self"`); "" when the feed declares none.
    hub: str = ""
    self_url: str = ""


def parse_feed(
    body: bytes,
    *,
    url: str,
    content_type: str | None = None,
    skip_keys: Container[str] = frozenset(),
) -> ParsedFeed:
    """Parse a fetched feed document.

    `url` is where the document was fetched from: relative links resolve
    against it (or against the feed's own xml:base). A malformed feed that
    still yields entries is used; a document that yields no entries and has
    no feed structure raises `NotAFeed`. Entries repeating an earlier key are
    dropped, and so are entries whose guid or link is in `skip_keys` (already
    known: normalising them again would be wasted work).
    """
    headers = {}
    if _declares_base(body):
        # Only then does feedparser need the document's address (to resolve the
        # declared base against it). Given an address it joins it with every start
        # tag's (absent) xml:base, a urljoin per element; without one it leaves
        # relative links relative, and `_absolute_http` resolves them against `url`.
        headers["content-location"] = url
    if content_type:
        headers["content-type"] = content_type
    # No sanitising or URI rewriting of embedded HTML: we only ever take its text
    # (and image URLs, resolved here), so feedparser's costly second HTML pass is waste.
    result: Mapping[str, Any] = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    entries = _mappings(result.get("entries"))
    error = result.get("bozo_exception")
    if not entries and not result.get("version"):
        raise NotAFeed(_not_a_feed_reason(body, content_type, error))
    feed = result.get("feed")
    feed_info: Entry = feed if isinstance(feed, Mapping) else {}
    articles: list[Article] = []
    seen: set[str] = set()
    for entry in entries:
        if skip_keys and _quick_key(entry, url) in skip_keys:
            continue
        article = _article(entry, base=url)
        if article is not None and article.key not in seen:
            seen.add(article.key)
            articles.append(article)
    broken = isinstance(error, xml.sax.SAXParseException)
    if broken and not articles and (not entries or not skip_keys):
        # Broken XML that yields nothing usable (e.g. a truncated download) is an error
        # to report, not an empty feed.
        raise NotAFeed(f"a malformed feed with no readable entries: {error}")
    return ParsedFeed(
        title=_plain_title(feed_info),
        link=_absolute_http(_str(feed_info, "link"), url) or "",
        articles=tuple(articles),
        hub=_feed_link(feed_info, "hub", url),
        self_url=_feed_link(feed_info, "self", url),
    )


def _feed_link(feed_info: Entry, rel: str, base: str) -> str:
    """The first http(s) `<link rel=...>` / `<atom:link rel=...>` of the feed, absolute."""
    for item in _mappings(feed_info.get("links")):
        if _str(item, "rel").lower() == rel:
            found = _absolute_http(_str(item, "href"), base)
            if found:
                return found
    return ""


_BASE_ATTRIBUTE = re.compile(rb"base\s*=")


def _declares_base(body: bytes) -> bool:
    """Whether the document may set xml:base (or is in a wide encoding we cannot scan)."""
    return b"\x00" in body[:64] or _BASE_ATTRIBUTE.search(body) is not None


def _not_a_feed_reason(body: bytes, content_type: str | None, error: object) -> str:
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if not start:
        detail = "the document is empty"
    elif media_type == "text/html" or start.startswith(b"<!doctype html") or b"<html" in start:
        detail = "looks like an HTML page"
    elif start[:1] in (b"{", b"["):
        detail = "looks like JSON; JSON Feed is not supported"
    elif error is not None:
        detail = f"not well-formed XML: {error}"
    else:
        detail = "no RSS, Atom or RDF elements found"
    return f"not an RSS/Atom/RDF feed ({detail})"


def _article(entry: Entry, *, base: str) -> Article | None:
    title = _plain_title(entry)
    url = _absolute_http(_str(entry, "link"), base) or ""
    guid = _str(entry, "id").strip()
    trees = FragmentTrees()  # the summary's HTML, parsed once for its text and its first <img>
    summary = cut_text(_summary_text(entry, trees), SUMMARY_MAX)
    if not (title or url or summary):
        return None
    key = guid or url or "sha256:" + text_hash(title, summary)
    return Article(
        key=key,
        url=url,
        canonical_url=canonical_url(url),
        title=title,
        author=_author(entry),
        summary=summary,
        image_url=_image_url(entry, base=base, trees=trees),
        categories=_categories(entry),
        published=_published(entry),
    )


def _quick_key(entry: Entry, base: str) -> str:
    """The entry's key when it has a guid or link ("" when only a text hash would do)."""
    return _str(entry, "id").strip() or _absolute_http(_str(entry, "link"), base) or ""


def _plain_title(item: Entry) -> str:
    """The title as one line of text.

    feedparser marks a title as HTML only when it is built from harmless
    HTML elements; anything else, such as an escaped `<script>`, is text
    that happens to contain angle brackets, and is kept literally.
    """
    title = _str(item, "title")
    detail = _get(item, "title_detail")
    kind = _str(detail, "type") if isinstance(detail, Mapping) else ""
    if kind in ("text/html", "application/xhtml+xml"):
        title = html_to_text(title)
    return " ".join(title.split())


def _summary_text(entry: Entry, trees: FragmentTrees) -> str:
    # Summaries are always read as HTML: feedparser calls a description
    # "text/plain" when it has no closing tag, yet `a<br />b` is still markup.
    for fragment in (_str(entry, "summary"), *_content_values(entry)):
        text = html_to_text(fragment, trees)
        if text:
            return text
    return ""


def _author(entry: Entry) -> str:
    detail = _get(entry, "author_detail")
    name = _str(detail, "name") if isinstance(detail, Mapping) else ""
    return " ".join((name or _str(entry, "author")).split())


def _categories(entry: Entry) -> tuple[str, ...]:
    terms: dict[str, str] = {}
    for tag in _mappings(_get(entry, "tags")):
        term = " ".join(_str(tag, "term").split())
        if term:
            terms.setdefault(term.casefold(), term)
    return tuple(terms.values())


def _published(entry: Entry) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        value = _get(entry, key)
        if isinstance(value, time.struct_time):
            try:
                # feedparser's struct_time is already UTC.
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, OSError, ValueError):
                continue
    return None


# --- images ----------------------------------------------------------------

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")


def _image_url(entry: Entry, *, base: str, trees: FragmentTrees) -> str | None:
    """The entry's first image: media:content, media:thumbnail, enclosure, then <img>."""
    candidates: list[str] = []
    for item in _mappings(_get(entry, "media_content")):
        if _is_image(item, require_hint=True):
            candidates.append(_str(item, "url"))
    # Media RSS defines a thumbnail as an image, so an untyped one counts.
    for item in _mappings(_get(entry, "media_thumbnail")):
        if _is_image(item, require_hint=False):
            candidates.append(_str(item, "url"))
    for item in _enclosures(entry):
        if _is_image({"type": _get(item, "type"), "url": _get(item, "href")}, require_hint=True):
            candidates.append(_str(item, "href"))
    for candidate in candidates:
        absolute = _absolute_http(candidate, base)
        if absolute:
            return absolute
    summary_detail = _get(entry, "summary_detail")
    summary_base = _str(summary_detail, "base") if isinstance(summary_detail, Mapping) else ""
    fragments = [
        *((_str(item, "value"), _str(item, "base")) for item in _mappings(_get(entry, "content"))),
        (_str(entry, "summary"), summary_base),
    ]
    for fragment, fragment_base in fragments:
        found = _first_img(fragment, urljoin(base, fragment_base) if fragment_base else base, trees)
        if found:
            return found
    return None


def _is_image(item: Entry, *, require_hint: bool) -> bool:
    """Whether a media item is an image: its declared type decides, else its extension."""
    kind = _str(item, "type").lower()
    medium = _str(item, "medium").lower()
    if kind or medium:
        return kind.startswith("image/") or medium == "image"
    if not require_hint:
        return True
    return urlsplit(_str(item, "url")).path.lower().endswith(IMAGE_EXTENSIONS)


def _first_img(fragment: str, base: str, trees: FragmentTrees) -> str | None:
    if "<img" not in fragment.lower():
        return None
    for img in trees.parse(fragment).iter("img"):
        # A 1x1 image is a tracking pixel, not an illustration.
        if {img.get("width"), img.get("height")} & {"0", "1"}:
            continue
        src = img.get("src")
        absolute = _absolute_http(src, base) if src else None
        if absolute:
            return absolute
    return None


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


# --- narrowing feedparser's values -----------------------------------------


def _get(item: Mapping[str, object], key: str) -> object:
    """`item[key]`, or None.

    feedparser's dicts look every key up through an alias table and raise (then catch)
    KeyError for an absent one; entries are read a few dozen times each, so their plain
    dict lookup is used. None of the keys read here is an alias, and "enclosures",
    which feedparser computes, is read through `_enclosures`.
    """
    if isinstance(item, dict):
        return dict.get(item, key)
    return item.get(key)


def _str(item: Mapping[str, object], key: str) -> str:
    value = _get(item, key)
    return value if isinstance(value, str) else ""


def _enclosures(entry: Entry) -> list[Entry]:
    """The entry's links with rel="enclosure" (what feedparser's "enclosures" gives)."""
    return [link for link in _mappings(_get(entry, "links")) if _str(link, "rel") == "enclosure"]


def _mappings(value: object) -> list[Entry]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _content_values(entry: Entry) -> list[str]:
    return [_str(item, "value") for item in _mappings(_get(entry, "content"))]


def _absolute_http(candidate: str, base: str) -> str | None:
    """`candidate` resolved against `base` if that gives an http(s) URL, else None."""
    candidate = candidate.strip()
    if not candidate:
        return None
    try:
        if base and candidate[:8].lower().startswith(("http://", "https://")):
            absolute = _join_absolute(base, candidate)
        else:
            absolute = urljoin(base, candidate) if base else candidate
        parts = urlsplit(absolute)
    except ValueError:  # e.g. a malformed IPv6 host
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return absolute
    return None


def _join_absolute(base: str, candidate: str) -> str:
    """`urljoin(base, candidate)` for an http(s) `candidate`, without parsing `base` again
    for every entry: another scheme than the base's leaves it as it is; the same scheme
    gives it back as urljoin reassembles it (its `;params` split aside)."""
    parts = urlsplit(candidate)
    if not parts.netloc or ";" in candidate:
        return urljoin(base, candidate)
    if parts.scheme != _scheme(base):
        return candidate
    return urlunsplit(parts)


@functools.lru_cache(maxsize=256)
def _scheme(base: str) -> str:
    return urlsplit(base).scheme
