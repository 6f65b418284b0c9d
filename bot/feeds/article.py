"""One normalised feed entry, and the URL canonicalisation used to compare entries."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urlsplit, urlunsplit

# Query parameters that only tell the publisher where a click came from; two
# links that differ only in these point at the same article.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "mc_cid",
        "mc_eid",
        "yclid",
        "_hsenc",
        "_hsmi",
        "ref_src",
        "igshid",
    }
)
TRACKING_PREFIXES = ("utm_",)


@dataclass(frozen=True, slots=True)
class Article:
    """A feed entry reduced to plain text and absolute URLs.

    `key` identifies the entry across polls (guid/id, else link, else a hash
    of its text); `content_hash` changes when the publisher edits the text.
    """

    key: str
    url: str
    canonical_url: str
    title: str
    author: str = ""
    summary: str = ""
    image_url: str | None = None
    categories: tuple[str, ...] = ()
    published: datetime | None = None

    @property
    def content_hash(self) -> str:
        """Hex sha256 of the title and summary, to notice edits of a known entry."""
        return text_hash(self.title, self.summary)


def text_hash(title: str, summary: str) -> str:
    """Hex sha256 of `title` and `summary`, separated so that the split is unambiguous."""
    return hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()


def canonical_url(url: str) -> str:
    """`url` without tracking parameters or fragment, scheme and host lowercased.

    The remaining query parameters keep their order and their original
    encoding, so that a server which cares about either still gets what the
    publisher linked. Returns "" for an empty url.
    """
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = f"{userinfo}{at}{hostport.lower()}"
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p))
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, query, ""))


def _is_tracking(param: str) -> bool:
    name = param.partition("=")[0]
    name = (unquote(name) if "%" in name else name).lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)
