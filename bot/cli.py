"""The `outreach-bot` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.admin_cli import add_admin_commands, cmd_announce, cmd_audit
from bot.app import StartupError, offline_audience, run_bot
from bot.config import Config, ConfigError, load_config, parse_config
from bot.demo import banner, demo_config_data, demo_language
from bot.demo.server import serve_sample_feed
from bot.donations import Donations, ProviderError, build_donations
from bot.donations.report import progress_json, progress_text, write_csv
from bot.i18n import Lang, supported_languages
from bot.links_cli import add_links_command, cmd_links
from bot.logs import setup_logging
from bot.ops_cli import add_ops_commands, cmd_copy_db, cmd_status
from bot.storage import DatabaseTooNew, MigrationError, StorageUnavailable, open_storage
from bot.storage import ledger as lq

log = logging.getLogger("bot")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _add_log_level(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=default,
        help=f"how much to log on stderr (default {default})",
    )


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", type=Path, required=True, help="the TOML config file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outreach-bot",
        description="Posts an organisation's articles to Telegram, Matrix and the console, "
        "takes earmarked donations and reports fund progress.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo_command(sub)
    _add_running_commands(sub)
    _add_donation_commands(sub)
    return parser


def _add_demo_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser(
        "demo",
        help="run the bot on its embedded demo config in this terminal",
        description="Run the bot on the embedded demo: you are a chat user on the console "
        "(the demo user 'admin' is an admin). Type /help. EOF (Ctrl-D) or Ctrl-C quits.",
    )
    demo.add_argument(
        "--data", type=Path, help="keep the demo's database in this folder (default: a temp folder)"
    )
    demo.add_argument("--user", help="chat as this console user instead of 'admin'")
    demo.add_argument(
        "--lang",
        type=demo_language,
        metavar="CODE",
        help=f"chat in this language ({', '.join(supported_languages())}; default: en)",
    )
    demo.add_argument(
        "--web-port",
        type=int,
        default=0,
        help="serve the demo campaign's page on this port of 127.0.0.1 (default: a free one)",
    )
    _add_log_level(demo, "WARNING")


def _add_running_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`run`, `check-config` and `migrate`: the commands that take a config file."""
    run = sub.add_parser(
        "run",
        help="run the bot with a config file",
        description="Run the bot with the adapters and feeds the config enables. "
        "SIGINT or SIGTERM shuts it down gracefully.",
    )
    _add_config(run)
    run.add_argument(
        "--once",
        action="store_true",
        help="poll every feed once, deliver everything pending, then exit (for cron)",
    )
    _add_log_level(run, "INFO")

    check = sub.add_parser(
        "check-config",
        help="validate a config file and list every problem",
        description="Validate a config file. Exits 0 when it is valid, or 1 after listing "
        "every problem with its key path.",
    )
    _add_config(check)

    migrate = sub.add_parser(
        "migrate",
        help="apply the storage migrations to the configured database",
        description="Apply every pending storage migration to the configured database "
        "([storage] url for PostgreSQL, else [storage] path), then print the schema version.",
    )
    _add_config(migrate)
    _add_log_level(migrate, "INFO")


def _add_donation_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    progress = sub.add_parser(
        "progress",
        help="print each campaign's progress",
        description="Print each campaign's net total, goal and donation count from the ledger.",
    )
    _add_config(progress)
    progress.add_argument(
        "--json",
        action="store_true",
        help='print {"campaigns": [{"id", "currency", "goal", "raised", "donations", '
        '"by_currency"}]} with amounts in minor units',
    )
    ledger = sub.add_parser(
        "ledger",
        help="export the donations ledger",
        description="Work with the donations ledger.",
    )
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    export = ledger_sub.add_parser(
        "export",
        help="print every ledger entry",
        description="Print every ledger entry (payments, refunds, disputes, offline gifts), "
        "oldest first, for the treasurer.",
    )
    _add_config(export)
    export.add_argument("--csv", action="store_true", required=True, help="as CSV on stdout")
    reconcile = sub.add_parser(
        "reconcile",
        help="read Stripe's event list once into the ledger",
        description="Read every Stripe event since the last one handled into the ledger "
        "(for deployments without a public webhook URL; safe to run from cron).",
    )
    _add_config(reconcile)
    _add_log_level(reconcile, "WARNING")
    add_admin_commands(sub)
    add_ops_commands(sub)
    add_links_command(sub)


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def demo_config(
    data_dir: Path, user: str | None, feed_url: str, web_port: int = 0, lang: str | None = None
) -> Config:
    data = demo_config_data(lang)
    data.setdefault("storage", {})["path"] = str(data_dir / "outreach.sqlite3")
    data["feeds"][0]["url"] = feed_url
    port = web_port or free_port()
    data["web"] = {
        "enabled": True,
        "listen": f"127.0.0.1:{port}",
        "public_url": f"http://127.0.0.1:{port}",
    }
    if user:
        data["console"]["user"] = user
    return parse_config(data, source="embedded demo config", base_dir=data_dir)


def _run(main: Coroutine[Any, Any, None]) -> int:
    try:
        asyncio.run(main)
    except (StartupError, DatabaseTooNew, MigrationError, StorageUnavailable) as exc:
        print(f"outreach-bot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def _stdout_to_devnull() -> None:
    """The reader of our output is gone (`demo | head`): what is still written, and the
    flush at exit, go to the null device instead of failing with BrokenPipeError."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()


async def _demo(data_dir: Path, args: argparse.Namespace) -> None:
    async with serve_sample_feed() as feed_url:
        config = demo_config(data_dir, args.user, feed_url, args.web_port, args.lang)
        name = config.console.user
        admin = name in config.admins.console
        page = f"{config.web.public_url}/campaigns/{config.campaigns[0].id}"
        try:
            print(banner(Lang.of(config.bot.language), name, admin, page), flush=True)
        except BrokenPipeError:
            _stdout_to_devnull()
            return  # nobody reads the console: there is no session to run
        await run_bot(config)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo session; it ends quietly (status 0) when its output's reader goes away
    (the console adapter ends the session on a broken pipe; the rest is flushed here)."""
    setup_logging(args.log_level)
    try:
        if args.data is not None:
            return _run(_demo(args.data.resolve(), args))
        with tempfile.TemporaryDirectory(prefix="outreach-demo-") as tmp:
            return _run(_demo(Path(tmp), args))
    finally:
        _flush_stdout()


def cmd_run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    setup_logging(args.log_level, config.secrets())
    return _run(run_bot(config, once=args.once))


def cmd_check_config(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    platforms = ", ".join(config.enabled_platforms()) or "none"
    print(
        f"{args.config}: OK ({platforms} enabled; {len(config.channels)} channel(s), "
        f"{len(config.feeds)} feed(s), {len(config.campaigns)} campaign(s))"
    )
    return 0


async def _migrate(config: Config) -> int:
    target = config.storage_target()
    async with open_storage(target, migrate=False) as db:
        before = await db.version()
        after = await db.migrate()
    print(f"{target.describe()}: schema version {before} -> {after}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    config = load_config(args.config)
    try:
        return asyncio.run(_migrate(config))
    except (DatabaseTooNew, MigrationError, StorageUnavailable) as exc:
        print(f"outreach-bot: {exc}", file=sys.stderr)
        return 1


async def _with_donations(config: Config, work: Callable[[Donations], Awaitable[int]]) -> int:
    """Open the database and the donations service, run `work`, close everything."""
    async with open_storage(config.storage_target()) as db:
        audience = offline_audience(config, db)
        donations = build_donations(config, db, audience, audience.outbox)
        try:
            return await work(donations)
        finally:
            await donations.aclose()


def cmd_progress(args: argparse.Namespace) -> int:
    config = load_config(args.config)

    async def work(d: Donations) -> int:
        if args.json:
            print(json.dumps(await progress_json(d.ledger), ensure_ascii=False, indent=2))
        else:
            today = datetime.now(UTC).date()
            for line in await progress_text(d.ledger, today) or ["No campaigns are configured."]:
                print(line)
        return 0

    return asyncio.run(_with_donations(config, work))


def cmd_ledger(args: argparse.Namespace) -> int:
    config = load_config(args.config)

    async def work(d: Donations) -> int:
        write_csv(await lq.all_entries(d.ledger.db), sys.stdout)
        return 0

    return asyncio.run(_with_donations(config, work))


def cmd_reconcile(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    setup_logging(args.log_level, config.secrets())

    async def work(d: Donations) -> int:
        if d.reconciler is None:
            print('outreach-bot: no campaign uses provider = "stripe"', file=sys.stderr)
            return 1
        try:
            result = await d.reconciler.pass_once()
        except ProviderError as exc:
            print(f"outreach-bot: reconciliation failed: {exc}", file=sys.stderr)
            return 1
        print(f"reconciled: {result.events} events read, {result.new_entries} new ledger entries")
        return 0

    return asyncio.run(_with_donations(config, work))


COMMANDS = {
    "demo": cmd_demo,
    "run": cmd_run,
    "check-config": cmd_check_config,
    "migrate": cmd_migrate,
    "progress": cmd_progress,
    "ledger": cmd_ledger,
    "reconcile": cmd_reconcile,
    "announce": cmd_announce,
    "audit": cmd_audit,
    "copy-db": cmd_copy_db,
    "status": cmd_status,
    "links": cmd_links,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"{exc.source}: {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
