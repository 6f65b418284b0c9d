"""The `outreach-bot` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import tomllib
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from bot.app import StartupError, run_bot
from bot.config import Config, ConfigError, load_config, parse_config
from bot.demo import demo_config_text
from bot.demo.server import serve_sample_feed
from bot.logs import setup_logging
from bot.storage import DatabaseTooNew, MigrationError, open_database

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
    _add_log_level(demo, "WARNING")

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
        description="Apply every pending storage migration to the database named by "
        "[storage] path, then print the schema version.",
    )
    _add_config(migrate)
    _add_log_level(migrate, "INFO")
    return parser


def demo_config(data_dir: Path, user: str | None, feed_url: str) -> Config:
    data = tomllib.loads(demo_config_text())
    data.setdefault("storage", {})["path"] = str(data_dir / "outreach.sqlite3")
    data["feeds"][0]["url"] = feed_url
    if user:
        data["console"]["user"] = user
    return parse_config(data, source="embedded demo config", base_dir=data_dir)


def _run(main: Coroutine[Any, Any, None]) -> int:
    try:
        asyncio.run(main)
    except (StartupError, DatabaseTooNew, MigrationError) as exc:
        print(f"outreach-bot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


async def _demo(data_dir: Path, user: str | None) -> None:
    async with serve_sample_feed() as feed_url:
        config = demo_config(data_dir, user, feed_url)
        name = config.console.user
        role = "an admin" if name in config.admins.console else "not an admin"
        print(
            f"outreach-bot demo: you are {name!r} ({role}). Type /help. Ctrl-D or Ctrl-C quits.\n",
            flush=True,
        )
        await run_bot(config)


def cmd_demo(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    if args.data is not None:
        return _run(_demo(args.data.resolve(), args.user))
    with tempfile.TemporaryDirectory(prefix="outreach-demo-") as tmp:
        return _run(_demo(Path(tmp), args.user))


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
    async with open_database(config.database_path(), migrate=False) as db:
        before = await db.version()
        after = await db.migrate()
    print(f"{config.database_path()}: schema version {before} -> {after}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    config = load_config(args.config)
    try:
        return asyncio.run(_migrate(config))
    except (DatabaseTooNew, MigrationError) as exc:
        print(f"outreach-bot: {exc}", file=sys.stderr)
        return 1


COMMANDS = {
    "demo": cmd_demo,
    "run": cmd_run,
    "check-config": cmd_check_config,
    "migrate": cmd_migrate,
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
