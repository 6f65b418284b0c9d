"""The reader's language on the web: chosen per request from bot.i18n's catalogues.

The pages speak the bot's languages (every catalogue in bot/locales): the words come
from the same gettext catalogues as the chat replies, and money and numbers from
`bot.i18n.Lang`, so a Russian reader sees "12 340 $" on a page as in a chat.
"""

from __future__ import annotations

import gettext
from functools import cache

from babel import Locale

from bot.i18n import DEFAULT_LANGUAGE, Lang, negotiate, supported_languages, translations


def languages() -> tuple[str, ...]:
    """The languages a page can be read in (the shipped catalogues), sorted by code."""
    return supported_languages()


def translations_for(lang: str) -> gettext.GNUTranslations:
    """bot.i18n's catalogue for `lang` (a supported code): gettext, ngettext, pgettext,
    npgettext, as Jinja's `install_gettext_translations(..., newstyle=True)` takes them."""
    return translations(lang)


def reader(lang: str) -> Lang:
    """The `Lang` of a supported code: its words, money and numbers."""
    return Lang.of(lang)


@cache
def language_name(lang: str) -> str:
    """A language named in itself, for the language switch: "Русский", "Español"."""
    name: str = Locale.parse(lang).get_display_name(lang) or lang
    return name[:1].upper() + name[1:]


def _supported(tag: str) -> str | None:
    """The supported language nearest to one BCP 47 tag ("ru-RU" → "ru"), or None."""
    return negotiate(tag.strip(), default="") or None


def choose_language(query: str | None, accept_language: str | None) -> str:
    """`?lang=` if it names one of our languages, else the best of `Accept-Language`."""
    if query and (chosen := _supported(query)):
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for n, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        code = _supported(tag)
        if code is not None and weight > 0:
            ranked.append((-weight, n, code))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE
