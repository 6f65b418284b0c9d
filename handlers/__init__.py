"""Command handlers. `register_all` is the one place every command is registered."""

from __future__ import annotations

from bot.context import CommandSpec
from bot.router import CommandRouter
from handlers import basic, feeds, reading, subscriptions


def register_all(router: CommandRouter) -> None:
    """Register every command the bot answers, in the order /help lists them."""
    router.add(CommandSpec("start", basic.start, "what this bot does"))
    router.add(CommandSpec("help", basic.help_, "list the commands"))
    router.add(
        CommandSpec(
            "subscribe", subscriptions.subscribe, "get new articles privately", "[topic ...]"
        )
    )
    router.add(
        CommandSpec("unsubscribe", subscriptions.unsubscribe, "stop articles", "[topic|all]")
    )
    router.add(CommandSpec("topics", subscriptions.topics, "the article topics"))
    router.add(CommandSpec("latest", reading.latest, "the newest articles", "[n] [topic]"))
    router.add(CommandSpec("search", reading.search, "search the articles", "words"))
    router.add(CommandSpec("related", reading.related, "articles like one", "ARTICLE"))
    router.add(CommandSpec("feeds", feeds.feeds_status, "each feed's status", admin=True))
    router.add(
        CommandSpec(
            "feed_check", feeds.feed_check, "preview a feed's newest item", "URL", admin=True
        )
    )
