"""Amounts, currencies, progress arithmetic and static link templates."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import ConfigError
from bot.donations.campaigns import (
    Campaign,
    percent_reached,
    percent_shown,
    progress_bar,
    thresholds_reached,
)
from bot.donations.money import (
    MINIMUM_CHARGE,
    AmountError,
    amount_argument,
    exponent,
    format_amount,
    parse_amount,
    payable_problem,
    to_minor,
)
from bot.donations.providers import StaticLinks
from tests.donations.conftest import RUSSIA, TOKYO, donation_config

KUWAIT = {**RUSSIA, "id": "kuwait", "currency": "KWD", "goal": 1000}


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("50", "USD", 5000),
        ("$50", "USD", 5000),
        ("50 usd", "USD", 5000),
        ("12.5", "USD", 1250),
        ("1,000", "EUR", 100000),
        ("€7.05", "EUR", 705),
        ("5000", "JPY", 5000),
        ("¥5,000", "JPY", 5000),
        ("10000", "KRW", 10000),
        ("1.230", "KWD", 1230),
        ("500", "ISK", 50000),
        ("CA$5", "CAD", 500),
        ("50 eur", "EUR", 5000),
        ("£0.30", "GBP", 30),
    ],
)
def test_amounts_people_type(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "problem"),
    [
        ("0", "USD", "more than zero"),
        ("-5", "USD", "not an amount"),
        ("1.005", "USD", "at most 2 decimals"),
        ("10.5", "JPY", "no decimals"),
        ("1,00", "USD", "not an amount"),
        ("fifty", "USD", "not an amount"),
        ("1e3", "USD", "not an amount"),
        ("1000000", "USD", "more than one payment"),
        ("1.234", "KWD", r"KWD amounts must end in 0, like 1\.240\."),
        ("500.5", "ISK", "ISK amounts have no decimals"),
        ("0.49", "USD", r"The smallest amount is \$0\.50\."),
        ("0.29", "GBP", r"The smallest amount is £0\.30\."),
        ("49", "JPY", r"The smallest amount is ¥50\."),
        ("$50", "EUR", "This campaign takes EUR: type the amount in EUR."),
        ("50 usd", "EUR", "This campaign takes EUR"),
        ("€5", "GBP", "This campaign takes GBP"),
        ("#5", "USD", "not an amount"),
    ],
)
def test_amounts_refused_with_a_reason(text: str, currency: str, problem: str) -> None:
    with pytest.raises(AmountError, match=problem):
        parse_amount(text, currency)


def test_offline_amounts_need_not_be_chargeable() -> None:
    # /record takes a bank transfer of any exact amount; only card payments follow Stripe.
    assert parse_amount("1.234", "KWD", payable=False) == 1234
    assert parse_amount("0.10", "USD", payable=False) == 10
    with pytest.raises(AmountError, match="more than one payment"):
        parse_amount("1000000", "USD", payable=False)


@pytest.mark.parametrize(
    ("minor", "currency", "problem"),
    [
        (50, "USD", None),
        (49, "USD", "The smallest amount is $0.50."),
        (1230, "KWD", None),
        (1231, "KWD", "KWD amounts must end in 0, like 1.240."),
        (50000, "ISK", None),
        (50050, "ISK", "ISK amounts have no decimals."),
        (1, "UAH", None),  # no published minimum: Stripe converts and checks
        (100_000_000, "USD", "That is more than one payment can take (at most $999,999.99)."),
    ],
)
def test_what_stripe_would_refuse(minor: int, currency: str, problem: str | None) -> None:
    assert payable_problem(minor, currency) == problem
    assert MINIMUM_CHARGE["GBP"] == 30
    assert MINIMUM_CHARGE["JPY"] == 50


@pytest.mark.parametrize(
    ("minor", "currency", "shown", "typed"),
    [
        (1234000, "USD", "$12,340", "12340"),
        (1250, "USD", "$12.50", "12.5"),
        (5000, "JPY", "¥5,000", "5000"),
        (-2500, "USD", "-$25", "-25"),
        (1000, "CHF", "CHF 10", "10"),
        (1500, "KWD", "KWD 1.500", "1.5"),
        (50000, "ISK", "ISK 500", "500"),
    ],
)
def test_amounts_shown_and_typed(minor: int, currency: str, shown: str, typed: str) -> None:
    assert format_amount(minor, currency) == shown
    assert amount_argument(minor, currency) == typed


def test_exponents_and_exact_conversion() -> None:
    assert [exponent(c) for c in ("usd", "JPY", "KRW", "KWD", "EUR")] == [2, 0, 0, 3, 2]
    assert to_minor(Decimal("20000"), "USD") == 2_000_000
    assert to_minor(Decimal("20000"), "JPY") == 20000
    with pytest.raises(ValueError, match="decimals"):
        to_minor(Decimal("10.5"), "JPY")


def test_progress_arithmetic() -> None:
    assert (percent_reached(1234000, 2000000), percent_shown(1234000, 2000000)) == (61, 62)
    assert progress_bar(1234000, 2000000) == "▓▓▓▓▓▓░░░░"
    assert percent_shown(1999999, 2000000) == 99  # never 100% before the goal
    assert (percent_shown(3000000, 2000000), progress_bar(3000000, 2000000)) == (150, "▓" * 10)
    assert progress_bar(-500, 2000000) == "░" * 10
    campaign = Campaign("c", "C", "for c", goal=10000, currency="USD", amounts=())
    assert thresholds_reached(campaign, 7600) == [25, 50, 75]


def test_static_links_encode_every_placeholder() -> None:
    links = StaticLinks("https://pay.example.org/{campaign}?a={amount}&c={currency}&n={earmark}")
    campaign = Campaign("c", "C", "for A & B / “friends”", goal=100, currency="EUR", amounts=())
    assert links.url(campaign, 1250) == (
        "https://pay.example.org/c?a=12.5&c=EUR&n=for%20A%20%26%20B%20%2F%20%E2%80%9Cfriends%E2%80%9D"
    )
    assert "a=any" in links.url(campaign, None)


def test_config_refuses_amounts_a_currency_cannot_have(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        donation_config(tmp_path, [{**TOKYO, "amounts": [1000, 10.5], "highlight": None}])
    assert caught.value.problems == ["campaigns[0]: 10.5 JPY: JPY amounts have no decimals"]
    with pytest.raises(ConfigError) as caught:
        donation_config(
            tmp_path,
            [{**RUSSIA, "amounts": [0.2, 50]}, {**KUWAIT, "amounts": [1.234], "highlight": None}],
        )
    assert caught.value.problems == [
        "campaigns[0].amounts[0]: 0.2 USD: The smallest amount is $0.50.",
        "campaigns[1].amounts[0]: 1.234 KWD: KWD amounts must end in 0, like 1.240.",
    ]
    with pytest.raises(ConfigError) as caught:
        donation_config(tmp_path, [{**RUSSIA, "milestones": [0, 50]}])
    assert caught.value.problems[0].startswith("campaigns[0].milestones[0]")


def test_a_stripe_campaign_needs_the_key_but_not_the_webhook_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        donation_config(tmp_path, [RUSSIA], provider="stripe", environ={})
    assert caught.value.problems == [
        "stripe.secret_key_env: environment variable STRIPE_SECRET_KEY is not set"
    ]
    assert donation_config(tmp_path, [RUSSIA], provider="stripe").campaigns[0].provider == "stripe"
