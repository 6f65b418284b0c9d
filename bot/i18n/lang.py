"""`Lang`: one reader's language, with its words (gettext) and its numbers (Babel).

A `Lang` is an immutable value, not a process-wide "current locale": a handler gets
the person's `Lang` from its context, a renderer takes one as an argument, and two
people answered at the same moment never see each other's language.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

from bot.i18n.catalogues import (
    DEFAULT_LANGUAGE,
    UnknownLanguage,
    supported_languages,
    translations,
)


@dataclass(frozen=True, slots=True)
class Msg:
    """A msgid kept for later: module-level text, translated when a reader is known."""

    msgid: str


def N_(msgid: str) -> Msg:
    """Mark module-level text for extraction; translate it later with `lang.gettext(msg)`."""
    return Msg(msgid)


Text = str | Msg


def _msgid(text: Text) -> str:
    return text.msgid if isinstance(text, Msg) else text


def _tag(code: str) -> str:
    return code.strip().replace("_", "-").lower()


def negotiate(
    code: str | None,
    default: str = DEFAULT_LANGUAGE,
    available: Iterable[str] | None = None,
) -> str:
    """The supported language nearest to a BCP 47 tag such as Telegram's `language_code`.

    "ru-RU" → "ru", "es-419" → "es", "uk" → "uk"; a language without a catalogue
    ("pt-br"), an empty or missing code gives `default`. `available` defaults to the
    shipped catalogues; a catalogue folder named "pt_BR" answers "pt-br" and "pt".
    """
    if not code:
        return default
    by_tag = {_tag(c): c for c in (supported_languages() if available is None else available)}
    tag = _tag(code)
    if tag in by_tag:
        return by_tag[tag]
    primary = tag.split("-", 1)[0]
    if primary in by_tag:
        return by_tag[primary]
    same_language = [c for t, c in sorted(by_tag.items()) if t.split("-", 1)[0] == primary]
    return same_language[0] if same_language else default


# Whole amounts read better without ",00": "$50", "12 340 $"; cents appear when there are some.
_DECIMALS = re.compile(r"\.0+")


@dataclass(frozen=True, slots=True)
class Lang:
    """A supported language: `gettext` and friends, and locale-aware numbers, money and dates.

    Text with `{fields}` is filled in after translation, so translators can move them:
    `lang.gettext("Thanks, {name}!", name=who)`. Without fields the text is returned
    as translated (braces untouched). `ngettext` always fills `{n}` with the count,
    written the locale's way ("12 340" in Russian).
    """

    code: str
    locale: Locale = field(repr=False)
    _catalogue: gettext.GNUTranslations = field(repr=False, compare=False)

    @staticmethod
    def of(code: str) -> Lang:
        """The `Lang` of a supported code ("ru"); UnknownLanguage for any other."""
        return _lang(code)

    # --- words ------------------------------------------------------------------------

    def gettext(self, text: Text, /, **fields: object) -> str:
        translated = self._catalogue.gettext(_msgid(text))
        return translated.format(**fields) if fields else translated

    def pgettext(self, context: str, text: Text, /, **fields: object) -> str:
        """`gettext` for a msgid that needs a context to be translated right ("ended")."""
        translated = self._catalogue.pgettext(context, _msgid(text))
        return translated.format(**fields) if fields else translated

    def ngettext(self, singular: str, plural: str, n: int, /, **fields: object) -> str:
        """The form for `n` by the locale's CLDR plural rule (ru: 1, 21 → form 0; 2 → 1; 5 → 2)."""
        translated = self._catalogue.ngettext(singular, plural, n)
        return translated.format(**{"n": self.number(n), **fields})

    def npgettext(
        self, context: str, singular: str, plural: str, n: int, /, **fields: object
    ) -> str:
        translated = self._catalogue.npgettext(context, singular, plural, n)
        return translated.format(**{"n": self.number(n), **fields})

    # --- numbers, money, dates ----------------------------------------------------------

    def number(self, value: int | Decimal) -> str:
        """12340 → "12,340" (en), "12 340" (ru, with a no-break space), "12.340" (es)."""
        return format_decimal(value, locale=self.locale)

    def percent(self, whole_percent: int) -> str:
        """62 → "62%" (en), "62 %" (ru, with a no-break space)."""
        return format_percent(Decimal(whole_percent) / 100, locale=self.locale)

    def money(self, minor_units: int, currency: str) -> str:
        """An amount stored in minor units, for reading: 1234050 USD → "12 340,50 $" in ru.

        Minor units follow the bot's (Stripe's) exponent table (JPY 0, KWD 3); the display
        follows Babel's currency digits, and whole amounts drop their zero decimals.
        """
        # Imported here, not at the top: bot.i18n stays a leaf every layer can import, and
        # bot.donations' package (ledger, renderers) will itself import bot.i18n.
        from bot.donations.money import to_major  # noqa: PLC0415

        major = to_major(minor_units, currency)
        pattern = self.locale.currency_formats["standard"].pattern
        if major == major.to_integral_value():
            pattern = _DECIMALS.sub("", pattern)
            return format_currency(
                major, currency, pattern, locale=self.locale, currency_digits=False
            )
        return format_currency(major, currency, pattern, locale=self.locale)

    def date(self, day: dt.date, style: str = "medium") -> str:
        """A date the locale's way: style "short", "medium" (default), "long" or "full"."""
        return format_date(day, format=style, locale=self.locale)

    # --- phrases shared by several renderers --------------------------------------------

    def days_left(self, days: int) -> str:
        """ "9 days left", "1 day left", "last day" (0), "ended" (negative)."""
        if days < 0:
            return self.pgettext("campaign", "ended")
        if days == 0:
            return self.gettext("last day")
        return self.ngettext("{n} day left", "{n} days left", days)

    def deadline(self, deadline: dt.date | None, today: dt.date) -> str:
        """`days_left` until a campaign's deadline; "" when it has none."""
        return "" if deadline is None else self.days_left((deadline - today).days)

    def donations(self, count: int) -> str:
        """ "1 donation", "311 donations"; ru "21 пожертвование", "5 пожертвований"."""
        return self.ngettext("{n} donation", "{n} donations", count)


@functools.cache
def _lang(code: str) -> Lang:
    if code not in supported_languages():
        raise UnknownLanguage(
            f"no catalogue for language {code!r} (supported: {', '.join(supported_languages())})"
        )
    return Lang(code, Locale.parse(code), translations(code))


def lang_for(code: str | None, default: str = DEFAULT_LANGUAGE) -> Lang:
    """The `Lang` nearest to a person's language code (Telegram's `language_code`), or default."""
    return Lang.of(negotiate(code, default))
