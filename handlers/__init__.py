"""Command handlers. `all_commands` is the one place every command is listed."""

from __future__ import annotations

from bot.context import CommandSpec
from bot.donations import Donations
from bot.i18n import N_
from handlers import (
    announce,
    basic,
    channels,
    deeplinks,
    feeds,
    language,
    privacy,
    reading,
    subscriptions,
)
from handlers.donations import DonationCommands


def all_commands(donations: Donations | None) -> tuple[CommandSpec, ...]:
    """Every command the bot answers, in the order /help lists them.

    The donation commands are there only when donations are configured.
    """
    S = CommandSpec
    specs = [
        S("start", deeplinks.start, N_("what this bot does")),
        S("help", basic.help_, N_("list the commands")),
        S("subscribe", subscriptions.subscribe, N_("get articles privately"), N_("[topic ...]")),
        S("unsubscribe", subscriptions.unsubscribe, N_("stop articles"), N_("[topic|all]")),
        S("topics", subscriptions.topics, N_("the article topics")),
        S("latest", reading.latest, N_("the newest articles"), N_("[n] [topic]")),
        S("search", reading.search, N_("search the articles"), N_("words")),
        S("related", reading.related, N_("articles like one"), N_("ARTICLE")),
        S("language", language.language, N_("choose your language"), N_("[code]")),
        S("mydata", privacy.mydata, N_("what I keep about you")),
        S("forgetme", privacy.forgetme, N_("delete what I keep about you")),
        # Admin commands
        S("announce", announce.announce, N_("send to every chat"), N_("[opts] TEXT"), admin=True),
        S("confirm", announce.confirm, N_("send an announcement"), "N", admin=True),
        S("cancel", announce.cancel, N_("drop an announcement"), "N", admin=True),
        S("cancel_announcement", announce.cancel, N_("stop a running one"), "N", admin=True),
        S("audit", announce.audit, N_("the latest admin actions"), "[n]", admin=True),
        S("feeds", feeds.feeds_status, N_("each feed's status"), admin=True),
        S("feed_check", feeds.feed_check, N_("preview a feed"), "URL", admin=True),
        S("channels", channels.channels, N_("each channel's state"), admin=True),
        S("resume", channels.resume, N_("resume a paused channel"), N_("NAME"), admin=True),
    ]  # fmt: skip
    if donations is not None:
        specs += DonationCommands(donations).specs()
    return tuple(specs)
