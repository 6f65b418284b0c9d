"""End to end: the installed `outreach-bot` command, driven through a pipe."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CLI = [sys.executable, "-m", "bot.cli"]


def run_demo(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "demo", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_demo_lists_the_commands_and_exits_on_eof() -> None:
    result = run_demo("/help\n")
    assert result.returncode == 0, result.stderr
    assert "/start — what this bot does" in result.stdout
    assert "/help — list the commands" in result.stdout
    assert "Traceback" not in result.stderr


def test_demo_admin_and_non_admin(tmp_path: Path) -> None:
    result = run_demo("/start\n/nope\n", "--user", "bob", "--data", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "bot → bob" in result.stdout
    assert "I don't know /nope" in result.stdout
    assert (tmp_path / "outreach.sqlite3").exists()


def test_sigterm_shuts_down_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*CLI, "demo", "--data", str(tmp_path), "--log-level", "INFO"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        # Wait until the bot is up (it logs "running with ...").
        assert proc.stderr is not None
        line = ""
        while "running with" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        assert "running with console" in line
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, err
    assert "shutting down" in err


def test_every_command_has_help() -> None:
    for command in ("demo", "run", "check-config", "migrate"):
        result = subprocess.run(
            [*CLI, command, "--help"], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0
        assert "usage: outreach-bot" in result.stdout
        assert len(result.stdout.splitlines()) > 3


def test_migrate_command(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[console]\nenabled = true\n[storage]\npath = "data/bot.sqlite3"\n')
    env = {**os.environ}
    result = subprocess.run(
        [*CLI, "migrate", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "schema version 0 ->" in result.stdout
    assert (tmp_path / "data" / "bot.sqlite3").exists()


def test_demo_ends_when_its_reader_goes_away(tmp_path: Path) -> None:
    """`outreach-bot demo | head` must end, not hang writing to a closed pipe."""
    proc = subprocess.Popen(
        [*CLI, "demo", "--data", str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write("/help\n" * 5)
        proc.stdin.flush()
        proc.stdout.readline()
        proc.stdout.close()  # like `| head -1`
        proc.stdin.write("/help\n" * 5)
        proc.stdin.flush()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()  # type: ignore[union-attr]
    assert proc.returncode == 0
