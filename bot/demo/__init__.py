"""The embedded demo: a config and a sample feed shipped with the package, and the demo's
own lines (its welcome and banner) in the language it chats in (`demo --lang ru`)."""

from __future__ import annotations

import argparse
import tomllib
from importlib import resources
from typing import Any

from bot.i18n import N_, Lang, supported_languages

# demo.toml's [bot] welcome, translated when the demo chats in another language.
DEMO_WELCOME = N_(
    "This is the outreach-bot demo. I post the organisation's new articles, take earmarked "
    "donations and report how each campaign is doing."
)


def demo_config_text() -> str:
    return (resources.files(__name__) / "demo.toml").read_text(encoding="utf-8")


def demo_config_data(language: str | None) -> dict[str, Any]:
    """demo.toml as data; with `language`, the bot (and its channel) speak that language."""
    data = tomllib.loads(demo_config_text())
    if language is not None:
        data["bot"]["language"] = language
        data["bot"]["welcome"] = Lang.of(language).gettext(DEMO_WELCOME)
    return data


def sample_feed_bytes() -> bytes:
    return (resources.files(__name__) / "sample_feed.xml").read_bytes()


def demo_language(value: str) -> str:
    """`--lang`: a language the bot has a catalogue for ("ru", "RU" and "ru_RU" are "ru")."""
    code = value.strip().replace("-", "_")
    for known in supported_languages():
        if code.lower() in (known.lower(), known.split("_")[0].lower()):
            return known
    raise argparse.ArgumentTypeError(
        f"no language {value!r}: the bot speaks {', '.join(supported_languages())}"
    )


def banner(lang: Lang, user: str, admin: bool, page: str) -> str:
    """The demo's first lines: who you are, how to quit, the campaign page."""
    if admin:
        who = lang.gettext(
            "outreach-bot demo: you are “{name}” (an admin). Type /help. Ctrl-D or Ctrl-C quits.",
            name=user,
        )
    else:
        who = lang.gettext(
            "outreach-bot demo: you are “{name}” (not an admin). Type /help. "
            "Ctrl-D or Ctrl-C quits.",
            name=user,
        )
    return who + "\n" + lang.gettext("The demo campaign's page: {url}", url=page) + "\n"
