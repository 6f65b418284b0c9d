"""Command handlers. `all_commands` is the one place every command is listed."""

from __future__ import annotations

from bot.context import CommandSpec
from bot.donations import Donations
from handlers import announce, basic, feeds, privacy, reading, subscriptions
from handlers.donations import DonationCommands


def all_commands(donations: Donations | None) -> tuple[CommandSpec, ...]:
    """Every command the bot answers, in the order /help lists them.

    The donation commands are there only when donations are configured.
    """
    specs = [
        CommandSpec("start", basic.start, "what this bot does"),
        CommandSpec("help", basic.help_, "list the commands"),
        CommandSpec("subscribe", subscriptions.subscribe, "get articles privately", "[topic ...]"),
        CommandSpec("unsubscribe", subscriptions.unsubscribe, "stop articles", "[topic|all]"),
        CommandSpec("topics", subscriptions.topics, "the article topics"),
        CommandSpec("latest", reading.latest, "the newest articles", "[n] [topic]"),
        CommandSpec("search", reading.search, "search the articles", "words"),
        CommandSpec("related", reading.related, "articles like one", "ARTICLE"),
        CommandSpec("mydata", privacy.mydata, "what I keep about you"),
        CommandSpec("forgetme", privacy.forgetme, "delete what I keep about you"),
        # Admin commands
        CommandSpec("announce", announce.announce, "send to every chat", "[opts] TEXT", admin=True),
        CommandSpec("confirm", announce.confirm, "send an announcement", "N", admin=True),
        CommandSpec("cancel", announce.cancel, "drop an announcement", "N", admin=True),
        CommandSpec("cancel_announcement", announce.cancel, "stop a running one", "N", admin=True),
        CommandSpec("audit", announce.audit, "the latest admin actions", "[n]", admin=True),
        CommandSpec("feeds", feeds.feeds_status, "each feed's status", admin=True),
        CommandSpec("feed_check", feeds.feed_check, "preview a feed", "URL", admin=True),
    ]  # fmt: skip
    if donations is not None:
        specs += DonationCommands(donations).specs()
    return tuple(specs)
