"""One machine stays simple: a second `outreach-bot run` on the same SQLite file refuses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.storage.sqlite_lock import DatabaseInUse, lock_path, single_instance

CLI = [sys.executable, "-m", "bot.cli"]


def test_a_held_database_names_its_holder(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    with single_instance(db):
        with pytest.raises(DatabaseInUse) as refused, single_instance(db):
            pass
        message = str(refused.value)
        assert f"pid {os.getpid()} on {socket.gethostname()}" in message
        assert "several instances, use PostgreSQL" in message
    with single_instance(db):  # released when its holder let go
        pass


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "c.toml"
    config.write_text(
        '[console]\nenabled = true\nuser = "alice"\n[storage]\npath = "bot.sqlite3"\n'
    )
    return config


def test_a_second_run_on_the_same_file_refuses_to_start(tmp_path: Path) -> None:
    config = _config(tmp_path)
    first = subprocess.Popen(
        [*CLI, "run", "-c", str(config), "--log-level", "WARNING"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        lock = lock_path(tmp_path / "bot.sqlite3")
        while not (lock.exists() and lock.read_text()):
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            assert time.monotonic() < deadline, "the first instance did not start"
            time.sleep(0.05)
        second = subprocess.run(
            [*CLI, "run", "-c", str(config)], input="", capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip
        assert second.returncode == 1
        assert f"in use by another outreach-bot (pid {first.pid} on " in second.stderr
        assert "use PostgreSQL" in second.stderr
    finally:
        first.communicate(input="", timeout=30)  # end of input ends the console session
    assert first.returncode == 0
    again = subprocess.run(
        [*CLI, "run", "-c", str(config)], input="", capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr  # the lock went with its holder
