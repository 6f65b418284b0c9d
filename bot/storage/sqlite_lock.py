"""One instance per SQLite file: an exclusive lock on a file beside the database.

The lock (`flock`) belongs to the process: the system releases it the moment that process
ends, however it ends, so a crash never leaves a stale lock behind. The file says which
process holds it, for the message the next one prints.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path


class DatabaseInUse(Exception):
    """Another running instance holds this SQLite database."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


@contextlib.contextmanager
def single_instance(database: Path) -> Iterator[None]:
    """Hold `database` for this process, or raise DatabaseInUse naming who holds it."""
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise DatabaseInUse(
                f"{database} is in use by another outreach-bot ({holder}); one SQLite "
                "database serves one running instance. To run several instances, use "
                "PostgreSQL ([storage] url, see docs/deploy.md)."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the lock
