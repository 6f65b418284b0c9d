"""The embedded demo: a config and a sample feed shipped with the package."""

from __future__ import annotations

from importlib import resources


def demo_config_text() -> str:
    return (resources.files(__name__) / "demo.toml").read_text(encoding="utf-8")


def sample_feed_bytes() -> bytes:
    return (resources.files(__name__) / "sample_feed.xml").read_bytes()
