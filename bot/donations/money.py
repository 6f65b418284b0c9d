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


def payable_problem(amount: int, currency: str) -> str | None:
    """Why Stripe would refuse to charge `amount` minor units of `currency`, for a person;
    None when it would take it."""
    code = currency.upper()
    if amount <= 0:
        return "The amount must be more than zero."
    if code in _THREE_DECIMAL and amount % 10:
        example = to_major(amount - amount % 10 + 10, code)
        return f"{code} amounts must end in 0, like {example}."
    if code in _WHOLE_UNITS_ONLY and amount % 100:
        return f"{code} amounts have no decimals."
    minimum = MINIMUM_CHARGE.get(code)
    if minimum is not None and amount < minimum:
        smallest = format_amount(minimum, code)
        return f"The smallest amount is {smallest}."
    if amount > MAX_MINOR:
        limit = format_amount(MAX_MINOR, code)
        return f"That is more than one payment can take (at most {limit})."
    return None


def _check_sign(sign: str, text: str, code: str) -> None:
    """A sign or code typed beside the number must name the campaign's currency."""
    label = sign.upper()
    if label in {"", code} or code in _SIGN_CURRENCIES.get(label, ()):
        return
    if label in _SIGN_CURRENCIES or re.fullmatch(r"[A-Z]{3}", label):
        raise AmountError(f"This campaign takes {code}: type the amount in {code}.")
    raise AmountError(f"“{text}” is not an amount. Type a number, like 50.")


def parse_amount(text: str, currency: str, *, payable: bool = True) -> int:
    """An amount typed in a chat ("50", "$50", "1,000", "12.50", "50 usd") in minor units.

    With `payable` (the default) the amount must also be one Stripe will charge: at
    least the currency's minimum, three-decimal amounts ending in 0, whole ISK.
    A currency sign or code that names another currency is refused, never converted.
    Raises AmountError with a message fit to show the person.
    """
    code = currency.upper()
    typed = _TYPED.match(text.strip())
    match = _NUMBER.match(typed.group("number")) if typed else None
    if typed is None or match is None:
        raise AmountError(f"“{text}” is not an amount. Type a number, like 50.")
    _check_sign(typed.group("before"), text, code)
    _check_sign(typed.group("after"), text, code)
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
    problem = payable_problem(minor, code) if payable else None
    if problem is None and minor > MAX_MINOR:
        problem = payable_problem(minor, code)
    if problem is not None:
        raise AmountError(problem)
    return minor
