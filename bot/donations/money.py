"""Amounts of money: minor units, currency exponents, parsing and display.

Every amount the bot stores or sums is an int in the currency's minor unit
(cents for USD, yen for JPY, fils for KWD). Decimal is used only at the edges:
reading config and chat input, and showing amounts to people.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from bot.i18n import N_, Lang, Money, Said

# Stripe's zero-decimal and three-decimal currencies; every other currency has two decimals.
# https://docs.stripe.com/currencies#zero-decimal
_ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
# Stripe takes these with three decimals, but card networks only settle whole tens of the
# minor unit: the last digit must be 0 (KWD 1.230, not 1.234).
_THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
# Stripe takes ISK as a two-decimal currency for backwards compatibility, but only whole
# krónur: 500 ISK is sent as 50000.
_WHOLE_UNITS_ONLY = frozenset(["ISK"])

# The largest amount Stripe takes in one payment (8 digits in minor units).
MAX_MINOR = 99_999_999

# Stripe's minimum charge per currency, in minor units, from its published table
# (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). For a currency
# not listed, Stripe asks for the equivalent of the settlement currency's minimum at the
# day's exchange rate, which only Stripe can check.
MINIMUM_CHARGE: Mapping[str, int] = MappingProxyType(
    {
        "USD": 50,
        "AED": 200,
        "AUD": 50,
        "BGN": 100,
        "BRL": 50,
        "CAD": 50,
        "CHF": 50,
        "CZK": 1500,
        "DKK": 250,
        "EUR": 50,
        "GBP": 30,
        "HKD": 400,
        "HUF": 17500,
        "INR": 50,
        "JPY": 50,
        "MXN": 1000,
        "MYR": 200,
        "NOK": 300,
        "NZD": 50,
        "PLN": 200,
        "RON": 200,
        "SEK": 300,
        "SGD": 50,
        "THB": 1000,
    }
)

_SYMBOLS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "KRW": "₩",
    "INR": "₹",
    "ILS": "₪",
    "UAH": "₴",
    "CAD": "CA$",
    "AUD": "A$",
}
_DOLLARS = frozenset(
    ["USD", "CAD", "AUD", "NZD", "SGD", "HKD", "TWD", "MXN", "ARS", "CLP", "COP", "UYU"]
)
# What a sign typed before or after a number can mean; "$" alone is any dollar or peso.
_SIGN_CURRENCIES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "$": _DOLLARS,
        "US$": frozenset(["USD"]),
        "CA$": frozenset(["CAD"]),
        "C$": frozenset(["CAD"]),
        "A$": frozenset(["AUD"]),
        "NZ$": frozenset(["NZD"]),
        "HK$": frozenset(["HKD"]),
        "S$": frozenset(["SGD"]),
        "R$": frozenset(["BRL"]),
        "€": frozenset(["EUR"]),
        "£": frozenset(["GBP", "GIP", "FKP", "SHP"]),
        "¥": frozenset(["JPY", "CNY"]),
        "₩": frozenset(["KRW"]),
        "₹": frozenset(["INR"]),
        "₪": frozenset(["ILS"]),
        "₴": frozenset(["UAH"]),
        "₽": frozenset(["RUB"]),
    }
)
_TYPED = re.compile(r"^(?P<before>[^\d\s.,-]*)\s*(?P<number>[\d.,]+)\s*(?P<after>[^\d\s.,]*)$")
_NUMBER = re.compile(r"^(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?$")


class AmountError(Said, ValueError):
    """An amount typed by a person cannot be used; `exc.text(lang)` says why, for them."""


def exponent(currency: str) -> int:
    """How many decimal places `currency` has (0 for JPY, 2 for USD, 3 for KWD)."""
    code = currency.upper()
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2


def to_minor(value: Decimal, currency: str) -> int:
    """`value` in major units as an exact int of minor units; ValueError if it has too many
    decimals for the currency (JPY 10.5, USD 1.005)."""
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more decimals than {currency.upper()} allows")
    return int(scaled)


def to_major(amount: int, currency: str) -> Decimal:
    """Minor units back to an exact Decimal in major units."""
    return Decimal(amount).scaleb(-exponent(currency))


def format_amount(amount: int, currency: str) -> str:
    """For people: "$12,340", "$12.50", "¥5,000", "CHF 10" (no decimals when they are zero)."""
    code = currency.upper()
    places = exponent(code)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**places) if places else (abs(amount), 0)
    number = f"{major:,}"
    if minor:
        number += "." + str(minor).rjust(places, "0")
    symbol = _SYMBOLS.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{code} {number}"


def amount_argument(amount: int, currency: str) -> str:
    """How an amount is typed in a command: "50", "12.5", "5000" (no symbol, no grouping)."""
    return format(to_major(amount, currency).normalize(), "f")


def payable_problem(amount: int, currency: str) -> str | None:
    """Why Stripe would refuse to charge `amount` minor units of `currency`, in English
    (check-config); None when it would take it."""
    problem = unpayable(amount, currency)
    return None if problem is None else str(problem)


def unpayable(amount: int, currency: str) -> AmountError | None:
    """Why Stripe would refuse to charge `amount` minor units of `currency`, for a person;
    None when it would take it."""
    code = currency.upper()
    if amount <= 0:
        return AmountError(N_("The amount must be more than zero."))
    if code in _THREE_DECIMAL and amount % 10:
        example = to_major(amount - amount % 10 + 10, code)
        return AmountError(
            N_("{currency} amounts must end in 0, like {example}."), currency=code, example=example
        )
    if code in _WHOLE_UNITS_ONLY and amount % 100:
        return AmountError(N_("{currency} amounts have no decimals."), currency=code)
    minimum = MINIMUM_CHARGE.get(code)
    if minimum is not None and amount < minimum:
        return AmountError(N_("The smallest amount is {amount}."), amount=Money(minimum, code))
    if amount > MAX_MINOR:
        return AmountError(
            N_("That is more than one payment can take (at most {amount})."),
            amount=Money(MAX_MINOR, code),
        )
    return None


def _not_an_amount(text: str) -> AmountError:
    return AmountError(N_("“{text}” is not an amount. Type a number, like 50."), text=text)


def _check_sign(sign: str, text: str, code: str) -> None:
    """A sign or code typed beside the number must name the campaign's currency."""
    label = sign.upper()
    if label in {"", code} or code in _SIGN_CURRENCIES.get(label, ()):
        return
    if label in _SIGN_CURRENCIES or re.fullmatch(r"[A-Z]{3}", label):
        raise AmountError(
            N_("This campaign takes {currency}: type the amount in {currency}."), currency=code
        )
    raise _not_an_amount(text)


def _read_number(number: str, text: str, code: str, lang: Lang | None) -> Decimal:
    """The typed number as a Decimal, the reader's way.

    Without a `lang`: "." is the decimal point and "," groups thousands (admins, /record).
    With one: the locale's decimal sign ("," in ru, uk, es) and the other sign are both
    understood when the reading is certain ("12,50" and "12.50"; "1.234,50" in es), and a
    single other sign before exactly three digits ("1,234" in en, "1.234" in ru) is refused
    as ambiguous, unless the currency has no decimals (¥5,000).
    """
    if lang is None:
        match = _NUMBER.match(number)
        if match is None:
            raise _not_an_amount(text)
        return Decimal(match.group("int").replace(",", "") + "." + (match.group("frac") or "0"))
    decimal = lang.locale.number_symbols["latn"]["decimal"]
    other = "." if decimal == "," else ","
    grouped = rf"\d{{1,3}}(?:{re.escape(other)}\d{{3}})+"
    whole = re.fullmatch(rf"(?P<int>{grouped}|\d+)(?:{re.escape(decimal)}(?P<frac>\d+))?", number)
    if whole is not None and (whole.group("frac") or other not in number or exponent(code) == 0):
        digits = whole.group("int").replace(other, "")
        return Decimal(digits + "." + (whole.group("frac") or "0"))
    if whole is not None and re.fullmatch(rf"\d{{1,3}}{re.escape(other)}\d{{3}}", number):
        raise AmountError(
            N_(
                "“{text}” can be read two ways. Write whole amounts without separators, "
                "like 1234, and decimals with “{decimal}”, like 12{decimal}50."
            ),
            text=text,
            decimal=decimal,
        )
    simple = re.fullmatch(rf"(?P<int>\d+){re.escape(other)}(?P<frac>\d+)", number)
    if whole is None and simple is not None:  # "12.50" typed in ru: only a decimal reading
        return Decimal(simple.group("int") + "." + simple.group("frac"))
    if whole is not None:  # grouped thousands ("1,234,567" in en)
        return Decimal(whole.group("int").replace(other, ""))
    raise _not_an_amount(text)


def parse_amount(
    text: str, currency: str, *, payable: bool = True, lang: Lang | None = None
) -> int:
    """An amount typed in a chat ("50", "$50", "1,000", "12.50", "50 usd") in minor units.

    `lang` reads the number the reader's way ("12,50" in ru, see `_read_number`).
    With `payable` (the default) the amount must also be one Stripe will charge: at
    least the currency's minimum, three-decimal amounts end in 0, whole ISK.
    A currency sign or code that names another currency is refused, never converted.
    Raises AmountError with a message fit to show the person (`exc.text(lang)`).
    """
    code = currency.upper()
    typed = _TYPED.match(text.strip())
    if typed is None:
        raise _not_an_amount(text)
    _check_sign(typed.group("before"), text, code)
    _check_sign(typed.group("after"), text, code)
    try:
        value = _read_number(typed.group("number"), text, code, lang)
    except InvalidOperation:  # pragma: no cover - the patterns admit only digits
        raise _not_an_amount(text) from None
    if value <= 0:
        raise AmountError(N_("The amount must be more than zero."))
    places = exponent(code)
    try:
        minor = to_minor(value, code)
    except ValueError:
        if places == 0:
            raise AmountError(N_("{currency} amounts have no decimals."), currency=code) from None
        raise AmountError(
            N_("{currency} amounts have at most {places} decimals."), currency=code, places=places
        ) from None
    problem = unpayable(minor, code) if payable else None
    if problem is None and minor > MAX_MINOR:
        problem = unpayable(minor, code)
    if problem is not None:
        raise problem
    return minor
