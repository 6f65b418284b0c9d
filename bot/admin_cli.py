"""Admin commands of the command line: `announce` and `audit`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from bot.announcements import Announcements, AnnounceOptions, Draft, OptionError
from bot.announcements.progress import DeliveryCounts
from bot.app import App, build_app
from bot.chat.plain import render_plain
from bot.config import Config, load_config
from bot.storage import open_storage

TERMINAL = "terminal"


def add_admin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    announce = sub.add_parser(
        "announce",
        help="send an announcement to every channel and subscriber",
        description="Send an announcement (light markup: *bold*, _italic_, [text](url)) "
        "to every channel and subscriber, or the targets given with --to. Shows a preview "
        "and asks before sending unless --yes; shows delivery progress and a final report.",
    )
    announce.add_argument("-c", "--config", type=Path, required=True, help="the TOML config file")
    text = announce.add_mutually_exclusive_group(required=True)
    text.add_argument("--text", help="the announcement text")
    text.add_argument("--file", type=Path, help="read the announcement text from this file")
    announce.add_argument(
        "--to",
        action="append",
        default=[],
        help="channels, subscribers, telegram, matrix, console, a channel name or "
        "topic:<topic> (repeatable; default: everything)",
    )
    announce.add_argument("--at", help="send at this ISO time (the running bot sends it)")
    announce.add_argument("--pin", action="store_true", help="pin it where the platform allows")
    announce.add_argument("--yes", action="store_true", help="send without asking")

    audit = sub.add_parser(
        "audit",
        help="print the latest admin actions",
        description="Print the latest entries of the audit log: who did what, when, "
        "to which targets, with what result.",
    )
    audit.add_argument("-c", "--config", type=Path, required=True, help="the TOML config file")
    audit.add_argument("-n", type=int, default=20, help="how many entries (default 20)")


def announce_options(args: argparse.Namespace, now: datetime) -> AnnounceOptions:
    """The command line's --to, --at, --pin and text, checked as /announce checks its own."""
    text = args.text if args.text is not None else args.file.read_text(encoding="utf-8")
    return AnnounceOptions.of(text, to=args.to, at=args.at, pin=args.pin, now=now)


def _ask(question: str) -> str:
    try:
        return input(question)
    except EOFError:  # no terminal to ask: the safe answer is no
        return ""


async def _watch(announcements: Announcements, announcement_id: int, stop: asyncio.Event) -> None:
    """A terminal progress bar until every delivery row is final."""
    counts = await announcements.counts(announcement_id)
    with tqdm(total=counts.total, unit="chat", desc=f"Announcement #{announcement_id}") as bar:
        while counts.pending:
            await asyncio.sleep(0.2)
            counts = await announcements.counts(announcement_id)
            bar.update(counts.finished - bar.n)
            failed = counts.failed + counts.gone + counts.unknown
            bar.set_postfix_str(f"{failed} failed" if failed else "")
        bar.update(counts.finished - bar.n)
    stop.set()


async def _send(app: App, draft: Draft) -> None:
    """Confirm the draft; unless it is scheduled, deliver it here with a progress bar."""
    announcements = app.services.announcements
    for adapter in app.adapters.values():
        await adapter.start(None)
    try:
        print(await announcements.confirm(draft.id, TERMINAL, None))
        if draft.send_at is not None:
            return  # the running bot sends it when it is due
        stop = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            for worker in app.workers.values():
                tg.create_task(worker.run(stop))
            tg.create_task(_watch(announcements, draft.id, stop))
        await announcements.tick()  # records the final report in the audit log
        counts: DeliveryCounts = await announcements.counts(draft.id)
        print(f"Announcement #{draft.id} finished: {counts.summary()}")
    finally:
        for adapter in app.adapters.values():
            await adapter.stop()


async def _announce(config: Config, args: argparse.Namespace) -> int:
    async with open_storage(config.storage_target()) as db:
        app = build_app(config, db)
        try:
            announcements = app.services.announcements
            now = datetime.fromtimestamp(app.services.clock(), UTC)
            try:
                draft = await announcements.draft(TERMINAL, announce_options(args, now))
            except OptionError as exc:
                print(f"outreach-bot: {exc}", file=sys.stderr)
                return 1
            print(f"Preview of announcement #{draft.id} (to {draft.summary}):\n")
            print(render_plain(draft.post) + "\n")
            answer = "yes" if args.yes else await asyncio.to_thread(_ask, "Send it? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print(await announcements.cancel(draft.id, TERMINAL))
                return 1
            await _send(app, draft)
            return 0
        finally:
            await app.close()


def cmd_announce(args: argparse.Namespace) -> int:
    return asyncio.run(_announce(load_config(args.config), args))


async def _audit(config: Config, limit: int) -> int:
    async with open_storage(config.storage_target()) as db:
        app = build_app(config, db)
        try:
            entries = await app.services.audit.latest(limit)
        finally:
            await app.close()
    for e in reversed(entries):
        when = datetime.fromtimestamp(e.at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        print(f"#{e.id}\t{when}\t{e.actor}\t{e.action}\t{e.detail}\t{e.result}")
    if not entries:
        print("The audit log is empty.")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    return asyncio.run(_audit(load_config(args.config), args.n))
