"""`outreach-bot run --once` as a cron job would run it: each new article printed once."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.fakes.feed_server import FeedServer, feed_server
from tests.helpers import rss

A = ("a", "First article", "https://example.org/a")
B = ("b", "Second article", "https://example.org/b")
C = ("c", "Third article", "https://example.org/c")


async def run_once(config: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        "-c",
        str(config),
        "--once",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def write_config(tmp_path: Path, server: FeedServer) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[console]
enabled = true

[storage]
path = "bot.sqlite3"

[[channels]]
name = "news"
platform = "console"
chat = "news"

[[feeds]]
name = "org"
url = "{server.url("/feed.xml")}"
channels = ["news"]
allow_private = true
backfill = 1
"""
    )
    return config


async def test_run_once_prints_each_new_article_once(tmp_path: Path) -> None:
    async with feed_server() as server:
        config = write_config(tmp_path, server)
        server.bodies["/feed.xml"] = rss(B, A)

        code, out, err = await run_once(config)
        assert code == 0, err
        assert out.count("── #news ──") == 1
        assert "Second article" in out
        assert "First article" not in out

        code, out, err = await run_once(config)
        assert code == 0, err
        assert out == ""

        server.bodies["/feed.xml"] = rss(C, B, A)
        code, out, err = await run_once(config)
        assert code == 0, err
        assert out.count("── #news ──") == 1
        assert "Third article" in out
        assert "Second article" not in out
