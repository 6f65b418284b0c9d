"""A temporary PostgreSQL server for the benchmarks, started as the test session starts one
(tests/postgres.py: Debian's `postgresql` package, `initdb` into a temp folder, `pg_ctl` on
a free 127.0.0.1 port) but durable by default: fsync and synchronous commits on, as a
deployment runs it, so figures against SQLite (`synchronous=FULL`) compare like with like.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from tests.postgres import PostgresServer, running_postgres


def _no_server(reason: str) -> None:
    raise SystemExit(reason)


@contextlib.contextmanager
def temporary_postgres(*, durable: bool = True) -> Iterator[PostgresServer]:
    """A running server for the block; stopped and removed after it."""
    with running_postgres(durable=durable, missing=_no_server) as server:
        yield server


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
