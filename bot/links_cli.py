"""`outreach-bot links -c FILE`: each campaign's and topic's shareable deep link.

The links open a private chat with the Telegram bot (`https://t.me/<bot>?start=...`),
so they need the bot's user name: `[telegram] username` when set (no network),
else one getMe call with the bot's token (the token stays out of every message).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from bot.adapters.telegram_links import deep_link_url
from bot.appeals.links import shareable_links
from bot.config import Config, load_config


class NoUsername(Exception):
    """The bot's Telegram user name is not known; the message says how to give it."""


def add_links_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    links = sub.add_parser(
        "links",
        help="print each campaign's and topic's shareable Telegram link",
        description="Print the deep links that open the bot at a campaign's amounts "
        "(donate-), its progress (progress-) or a topic's subscription (subscribe-), for "
        "the organisation's website and social posts. The bot's user name comes from "
        "[telegram] username, else from Telegram (getMe with the token).",
    )
    links.add_argument("-c", "--config", type=Path, required=True, help="the TOML config file")


async def bot_username(config: Config, environ: Mapping[str, str]) -> str:
    """`[telegram] username`, else what getMe says (raises NoUsername)."""
    t = config.telegram
    if t.username:
        return t.username
    token = environ.get(t.token_env)
    if not token:
        raise NoUsername(
            f"set [telegram] username, or put the bot's token in {t.token_env} to ask Telegram"
        )
    url = f"{t.api_base.rstrip('/')}{token}/getMe"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session,
            session.get(url) as response,
        ):
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        # The exception's text can hold the URL, and so the token: only its kind is told.
        raise NoUsername(
            f"could not ask Telegram for the bot's name ({type(exc).__name__})"
        ) from None
    username = answer.get("result", {}).get("username") if isinstance(answer, dict) else None
    if not answer.get("ok") or not isinstance(username, str):
        raise NoUsername(f"Telegram did not tell the bot's name: {answer.get('description')}")
    return username


def link_lines(config: Config, username: str) -> list[str]:
    topics = sorted({t for f in config.feeds for t in f.topics.values()})
    lines = [f"Telegram bot: @{username}"]
    for link in shareable_links(
        [c.id for c in config.campaigns], topics, lambda p: deep_link_url(username, p)
    ):
        lines.append(f"{link.what}: {link.url or '(a link cannot carry this name)'}")
    public = config.web.public_url if config.web.pages else None
    if public:
        base = public.rstrip("/")
        lines += [f"page {c.id}: {base}/campaigns/{c.id}" for c in config.campaigns]
    return lines


def cmd_links(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    try:
        username = asyncio.run(bot_username(config, os.environ))
    except NoUsername as exc:
        print(f"outreach-bot links: {exc}", file=sys.stderr)
        return 1
    for line in link_lines(config, username):
        print(line)
    return 0
