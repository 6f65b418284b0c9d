"""Helpers shared by the tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, parse_config

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def make_config(tmp_path: Path, **sections: Any) -> Config:
    """A valid config with the console enabled, plus whatever the test overrides."""
    data: dict[str, Any] = {
        "console": {"enabled": True, "user": "alice"},
        "admins": {"console": ["admin"]},
        "storage": {"path": str(tmp_path / "bot.sqlite3")},
    }
    data.update(sections)
    return parse_config(data, base_dir=tmp_path, environ={})


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def rss(*items: tuple[str, str, str], title: str = "Test feed") -> bytes:
    """An RSS 2.0 document; each item is (guid, title, link); newest first."""
    from xml.sax.saxutils import escape

    body = "".join(
        f"<item><guid isPermaLink='false'>{escape(g)}</guid><title>{escape(t)}</title>"
        f"<link>{escape(link)}</link><description>About {escape(t)}.</description></item>"
        for g, t, link in items
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel>"
        f"<title>{escape(title)}</title><link>https://example.org/</link>{body}</channel></rss>"
    ).encode()


SHARED_FEEDS = PROJECT_ROOT.parent / "shared" / "testdata" / "feeds"


def real_feed_params() -> list[Any]:
    """One parameter per real-world feed in ../shared, or one marker when it is missing."""
    feeds = sorted(SHARED_FEEDS.glob("*/*.xml")) if SHARED_FEEDS.is_dir() else []
    if not feeds:
        return [pytest.param(None, id="real-world-feeds-missing")]
    return [pytest.param(path, id=path.name) for path in feeds]


def require_real_feed(path: Path | None) -> Path:
    """Skip without ../shared (fail instead when OUTREACH_REQUIRE_SHARED=1, as in CI)."""
    if path is None:
        reason = (
            f"real-world feeds not found at {SHARED_FEEDS} "
            "(../shared/testdata/feeds beside the project); CI provides them"
        )
        if os.environ.get("OUTREACH_REQUIRE_SHARED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path
