"""The reader's language on the web: chosen per request, with its translations and money format."""

from __future__ import annotations

import gettext
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency

from bot.donations.money import to_major

LANGUAGES = ("en", "ru", "uk", "es")  # the bot's languages; the first is the fallback
DEFAULT = LANGUAGES[0]


def translations_for(lang: str) -> gettext.NullTranslations:
    """The translations object for `lang` (one of LANGUAGES).

    The one place the web pages get their catalogues: until bot.i18n lands this is
    the identity (English source strings); then it returns bot.i18n's catalogue.
    """
    return gettext.NullTranslations()


def _tag(value: str) -> str:
    return value.strip().replace("_", "-").split("-")[0].lower()


def choose_language(query: str | None, accept_language: str | None) -> str:
    """`?lang=` if it names one of our languages, else the best of `Accept-Language`."""
    if query and _tag(query) in LANGUAGES:
        return _tag(query)
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
        if _tag(tag) in LANGUAGES and weight > 0:
            ranked.append((-weight, n, _tag(tag)))
    return min(ranked)[2] if ranked else DEFAULT


@lru_cache(maxsize=64)
def _whole_pattern(lang: str) -> str:
    """The locale's currency pattern without decimals ("¤#,##0"), for whole amounts."""
    pattern: str = Locale.parse(lang).currency_formats["standard"].pattern
    return pattern.split(";", maxsplit=1)[0].replace(".00", "")


def money(amount_minor: int, currency: str, lang: str) -> str:
    """An amount for a reader of `lang`: "$12,340", "12 340 $", "12.340,50 €" (Babel, CLDR).

    Whole amounts drop their zero decimals, as the chat replies do.
    """
    value: Decimal = to_major(amount_minor, currency)
    if value == value.to_integral_value():
        return format_currency(
            value, currency, format=_whole_pattern(lang), locale=lang, currency_digits=False
        )
    return format_currency(value, currency, locale=lang)
