"""Amounts of money: minor units, currency exponents, parsing and display.

Every amount the bot stores or sums is an int in the currency's minor unit
(cents for USD, yen for JPY, fils for KWD). Decimal is used only at the edges:
reading config and chat input, and showing amounts to people.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

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
_THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])

# The largest amount Stripe takes in one payment (8 digits in minor units).
MAX_MINOR = 99_999_999

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
_SYMBOL_CHARS = "$€£¥₩₹₪₴"
_NUMBER = re.compile(r"^(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?$")


class AmountError(ValueError):
    """An amount typed by a person cannot be used; the message says why, for them."""


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


def parse_amount(text: str, currency: str) -> int:
    """An amount typed in a chat ("50", "$50", "1,000", "12.50", "50 usd") in minor units.

    Raises AmountError with a message fit to show the person.
    """
    code = currency.upper()
    cleaned = text.strip()
    if cleaned[-3:].upper() == code:
        cleaned = cleaned[:-3].strip()
    cleaned = cleaned.lstrip(_SYMBOL_CHARS).strip()
    match = _NUMBER.match(cleaned)
    if match is None:
        raise AmountError(f"“{text}” is not an amount. Type a number, like 50.")
    try:
        value = Decimal(match.group("int").replace(",", "") + "." + (match.group("frac") or "0"))
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        raise AmountError(f"“{text}” is not an amount.") from None
    if value <= 0:
        raise AmountError("The amount must be more than zero.")
    places = exponent(code)
    try:
        minor = to_minor(value, code)
    except ValueError:
        if places == 0:
            raise AmountError(f"{code} amounts have no decimals.") from None
        raise AmountError(f"{code} amounts have at most {places} decimals.") from None
    if minor > MAX_MINOR:
        limit = format_amount(MAX_MINOR, code)
        raise AmountError(f"That is more than one payment can take (at most {limit}).")
    return minor
