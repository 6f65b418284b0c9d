"""A temporary PostgreSQL server for the benchmarks, started as the test session starts one
(tests/postgres.py: Debian's `postgresql` package, `initdb` into a temp folder, `pg_ctl` on
a free 127.0.0.1 port) but durable by default: fsync and synchronous commits on, as a
deployment runs it, so figures against SQLite (`synchronous=FULL`) compare like with like.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from tests.postgres import PostgresServer, _free_port, _run_as_owner, server_bin


@contextlib.contextmanager
def temporary_postgres(*, durable: bool = True) -> Iterator[PostgresServer]:
    """A running server for the block; stopped and removed after it."""
    bindir = server_bin()
    if bindir is None:
        raise SystemExit(
            "no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql"
        )
    folder = Path(tempfile.mkdtemp(prefix="outreach-bench-pg-"))
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


async def new_database(server: PostgresServer, name: str) -> str:
    """An empty database on `server` (the bot migrates it when it opens it); its URL."""
    conn = await asyncpg.connect(server.url())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server.url(name)


def backend_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) the server processes `pids` have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total
