"""Operator commands for the storage behind the bot: `copy-db` and `status`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from bot.config import Config, load_config
from bot.storage import StorageUnavailable, open_database, open_storage
from bot.storage import outbox as q
from bot.storage.copy import Side, TargetNotEmpty, copy_database, describe
from bot.storage.postgres import PostgresDatabase
from bot.storage.roles import live_instances
from bot.storage.sqlite_lock import lock_path

ROLES_BESIDE_PLATFORMS = ("feeds", "announcements", "reconciliation")


def add_ops_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    copy = sub.add_parser(
        "copy-db",
        help="copy a SQLite database into the configured, empty PostgreSQL database",
        description="Copy every row of SQLITE_FILE into the PostgreSQL database of "
        "[storage] url (which must be empty), then print row counts and campaign totals "
        "from both sides.",
    )
    copy.add_argument("sqlite_file", type=Path, metavar="SQLITE_FILE")
    copy.add_argument("-c", "--config", type=Path, required=True, help="the TOML config file")
    status = sub.add_parser(
        "status",
        help="list live instances, their roles and the outbox backlog",
        description="List the running instances and the roles each holds (PostgreSQL), "
        "and the outbox backlog per platform.",
    )
    status.add_argument("-c", "--config", type=Path, required=True, help="the TOML config file")
    status.add_argument("--json", action="store_true", help="as JSON")


def _print_side(label: str, side: Side) -> None:
    counts = ", ".join(f"{t} {n}" for t, n in side.counts.items())
    print(f"{label}: {counts}")
    for t in side.totals:
        print(f"{label}: campaign {t.campaign} {t.currency}: {t.net} ({t.donations} donations)")


async def _copy(config: Config, source_path: Path) -> int:
    target = config.storage_target()
    if target.url is None:
        print("outreach-bot: copy-db needs [storage] url (PostgreSQL)", file=sys.stderr)
        return 1
    async with open_database(source_path) as source, open_storage(target) as pg:
        assert isinstance(pg, PostgresDatabase)
        try:
            await copy_database(source, pg)
        except TargetNotEmpty as exc:
            print(f"outreach-bot: {exc}", file=sys.stderr)
            return 1
        before, after = await describe(source), await describe(pg)
    _print_side("sqlite", before)
    _print_side("postgres", after)
    if (before.counts, before.totals) != (after.counts, after.totals):
        print("outreach-bot: the copies differ", file=sys.stderr)
        return 1
    print("copied: counts and campaign totals match")
    return 0


def cmd_copy_db(args: argparse.Namespace) -> int:
    if not args.sqlite_file.is_file():
        print(f"outreach-bot: {args.sqlite_file}: no such SQLite file", file=sys.stderr)
        return 1
    try:
        return asyncio.run(_copy(load_config(args.config), args.sqlite_file))
    except StorageUnavailable as exc:
        print(f"outreach-bot: {exc}", file=sys.stderr)
        return 1


async def _status(config: Config) -> dict[str, Any]:
    target = config.storage_target()
    roles = [*config.enabled_platforms(), *ROLES_BESIDE_PLATFORMS]
    async with open_storage(target, migrate=False) as db:
        backlog = await q.backlog(db)
        if isinstance(db, PostgresDatabase):
            instances = [
                {"name": i.name, "roles": list(i.roles), "since": i.since}
                for i in await live_instances(db, roles)
            ]
        else:
            holder = await asyncio.to_thread(_lock_holder, target.path)
            instances = [{"name": holder, "roles": roles}] if holder else []
    return {"storage": target.describe(), "instances": instances, "backlog": backlog}


def _lock_holder(database: Path) -> str:
    lock = lock_path(database)
    return lock.read_text().strip() if lock.exists() else ""


def cmd_status(args: argparse.Namespace) -> int:
    try:
        report = asyncio.run(_status(load_config(args.config)))
    except StorageUnavailable as exc:
        print(f"outreach-bot: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"storage: {report['storage']}")
    for i in report["instances"] or [{"name": "(none running)", "roles": []}]:
        print(f"instance {i['name']}: {', '.join(i['roles']) or 'standby'}")
    backlog = report["backlog"]
    print("outbox backlog: " + (", ".join(f"{p} {n}" for p, n in backlog.items()) or "empty"))
    return 0
