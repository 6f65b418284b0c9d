"""Command handlers. `register_all` is the one place every command is registered."""

from __future__ import annotations

from bot.context import CommandSpec
from bot.router import CommandRouter
from handlers import basic


def register_all(router: CommandRouter) -> None:
    """Register every command the bot answers, in the order /help lists them."""
    router.add(CommandSpec("start", basic.start, "what this bot does"))
    router.add(CommandSpec("help", basic.help_, "list the commands"))
