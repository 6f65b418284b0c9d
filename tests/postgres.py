"""A real PostgreSQL server for the test session (Debian's `postgresql` package).

`initdb` into a temp folder, `pg_ctl` on a free 127.0.0.1 port with its socket in that
folder and `fsync=off`. PostgreSQL refuses to run as root, so as root both run as the
`postgres` user (`runuser`), in a folder that user owns. Each test gets a fresh database
copied from a migrated template (`CREATE DATABASE … TEMPLATE`), which takes milliseconds.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from bot.storage.postgres import open_postgres

REQUIRE_ENV = "OUTREACH_REQUIRE_POSTGRES"
TEMPLATE = "outreach_template"
_SEARCH = [Path(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]


def server_bin() -> Path | None:
    """The folder with `initdb` and `pg_ctl`: on PATH, else Debian's versioned folder."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    for folder in _SEARCH:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def skip_or_fail(reason: str) -> None:
    """Skip with `reason`, unless CI made PostgreSQL mandatory: then fail."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 makes PostgreSQL tests mandatory)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server; `url(db)` reaches database `db` as the superuser `postgres`."""

    bindir: Path
    folder: Path
    port: int
    _names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_name(self, prefix: str = "t") -> str:
        return f"{prefix}_{os.getpid()}_{next(self._names)}"

    async def make_template(self) -> None:
        """The migrated database every test's database is copied from."""
        await self._sql(f"CREATE DATABASE {TEMPLATE}")
        async with open_postgres(self.url(TEMPLATE)):
            pass  # migrated, then closed: a template must have no connections

    async def fresh_database(self, *, migrated: bool = True) -> str:
        """A new database (a copy of the migrated template, or empty); its URL."""
        name = self.new_name("t" if migrated else "e")
        await self._sql(f"CREATE DATABASE {name}" + (f" TEMPLATE {TEMPLATE}" if migrated else ""))
        return self.url(name)

    async def _sql(self, statement: str) -> None:
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    def pg_ctl(self, *args: str) -> None:
        _run_as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.data), *args])

    def restart(self) -> None:
        """`pg_ctl restart` (fast shutdown: every connection is dropped)."""
        self.pg_ctl("-m", "fast", "-w", "-t", "30", "-l", str(self.folder / "log"), "restart")


def _as_owner() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def _run_as_owner(argv: list[str]) -> None:
    subprocess.run([*_as_owner(), *argv], check=True, capture_output=True, timeout=60)


@contextlib.contextmanager
def running_postgres(
    *, durable: bool = False, missing: Callable[[str], object] | None = None
) -> Iterator[PostgresServer]:
    """Start a throwaway server, stop it (immediately) and remove its folder on exit.

    `durable` keeps fsync and synchronous commits on (the benchmarks' choice); without
    server binaries `missing` is called with the reason (default: skip, or fail in CI).
    """
    bindir = server_bin()
    if bindir is None:
        (missing or skip_or_fail)(
            "no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql"
        )
        raise AssertionError  # unreachable: `missing` raises
    folder = Path(tempfile.mkdtemp(prefix="outreach-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    server = PostgresServer(bindir, folder, _free_port())
    _run_as_owner([
        str(bindir / "initdb"), "-D", str(server.data), "-U", "postgres", "-A", "trust",
        "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
    ])  # fmt: skip
    options = (
        f"-c listen_addresses=127.0.0.1 -p {server.port} -c unix_socket_directories={folder} "
        "-c max_connections=200"
    )
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    server.pg_ctl("-o", options, "-l", str(folder / "log"), "-w", "-t", "30", "start")
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            server.pg_ctl("-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
