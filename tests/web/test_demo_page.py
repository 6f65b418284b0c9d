"""`outreach-bot demo` also serves the demo campaign's page on 127.0.0.1 and prints its URL."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PREFIX = "The demo campaign's page: "


def fetch(url: str, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                text: str = response.read().decode()
                return text
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_the_demo_serves_its_campaign_page(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo", "--data", str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        line = ""
        while not line.startswith(PREFIX) and time.monotonic() < deadline:
            line = proc.stdout.readline()
        assert line.startswith(PREFIX), line
        url = line.removeprefix(PREFIX).strip()
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/campaigns/russia")
        page = fetch(url, time.monotonic() + 20)
        assert "<h1>Russian anti-war protesters</h1>" in page
        assert 'role="progressbar"' in page
    finally:
        try:
            proc.communicate(timeout=20)  # EOF on the console ends the demo
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=5)
    assert proc.returncode == 0
