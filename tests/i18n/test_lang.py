"""`Lang`: choosing a language, filling fields, and the locale's numbers and dates."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bot.i18n import N_, Lang, UnknownLanguage, discover, lang_for, negotiate, supported_languages
from tests.helpers import PROJECT_ROOT

NBSP = "\xa0"  # Babel separates digit groups and units with no-break spaces
NNBSP = "\u202f"  # and the Slavic year abbreviation with a narrow one


@pytest.mark.parametrize(
    ("telegram_code", "chosen"),
    [
        ("ru", "ru"),
        ("uk", "uk"),
        ("es", "es"),
        ("en", "en"),
        ("ru-RU", "ru"),
        ("uk-UA", "uk"),
        ("es-419", "es"),
        ("en-GB", "en"),
        ("ES_mx", "es"),
        ("pt-br", "en"),
        ("be", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_telegram_language_codes_map_to_the_nearest_catalogue(
    telegram_code: str | None, chosen: str
) -> None:
    assert negotiate(telegram_code) == chosen
    assert lang_for(telegram_code).code == chosen


def test_the_default_is_used_for_languages_without_a_catalogue() -> None:
    assert negotiate("pt-br", default="es") == "es"
    assert lang_for("ja", default="ru").code == "ru"


def test_a_regional_catalogue_answers_its_language() -> None:
    available = ["en", "pt_BR"]
    assert negotiate("pt-BR", available=available) == "pt_BR"
    assert negotiate("pt", available=available) == "pt_BR"
    assert negotiate("pt-PT", available=available) == "pt_BR"
    assert negotiate("es", available=available) == "en"


def test_a_fifth_language_is_one_po_file(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(PROJECT_ROOT / "bot" / "locales", locales)
    (locales / "pl" / "LC_MESSAGES").mkdir(parents=True)
    shutil.copy(locales / "en" / "LC_MESSAGES" / "messages.po", locales / "pl" / "LC_MESSAGES")
    (locales / "notes").mkdir()  # a folder without a catalogue is not a language
    assert discover(locales) == ("en", "es", "pl", "ru", "uk")
    assert supported_languages() == ("en", "es", "ru", "uk")


def test_an_unknown_code_is_refused_by_name() -> None:
    with pytest.raises(UnknownLanguage, match=r"'pt' .*supported: en, es, ru, uk"):
        Lang.of("pt")


def test_module_level_text_is_translated_when_the_reader_is_known() -> None:
    ended = N_("last day")
    assert Lang.of("ru").gettext(ended) == "последний день"
    assert Lang.of("en").gettext(ended) == "last day"


def test_fields_are_filled_after_translation_and_counts_use_the_locale_digits() -> None:
    ru = Lang.of("ru")
    assert ru.donations(12_340) == f"12{NBSP}340 пожертвований"
    assert Lang.of("es").donations(1_000_000) == "1.000.000 de donaciones"
    assert Lang.of("en").gettext("{who} gave {amount}", who="Ann", amount="$5") == "Ann gave $5"
    # Without fields the text comes back as written, braces and all.
    assert Lang.of("en").gettext("{not a field}") == "{not a field}"


def test_an_untranslated_msgid_falls_back_to_english() -> None:
    assert Lang.of("uk").gettext("No such text in any catalogue") == (
        "No such text in any catalogue"
    )
    assert Lang.of("ru").ngettext("{n} widget", "{n} widgets", 3) == "3 widgets"


@pytest.mark.parametrize(
    ("code", "ended", "last", "deadline"),
    [
        ("en", "ended", "last day", "9 days left"),
        ("ru", "сбор завершён", "последний день", "осталось 9 дней"),
        ("uk", "збір завершено", "останній день", "залишилося 9 днів"),
        ("es", "campaña cerrada", "último día", "quedan 9 días"),
    ],
)
def test_days_left(code: str, ended: str, last: str, deadline: str) -> None:
    lang = Lang.of(code)
    assert lang.days_left(-1) == ended
    assert lang.days_left(0) == last
    assert lang.deadline(date(2026, 3, 10), today=date(2026, 3, 1)) == deadline
    assert lang.deadline(None, today=date(2026, 3, 1)) == ""


@pytest.mark.parametrize(
    ("code", "number", "percent", "medium", "long"),
    [
        ("en", "12,340", "62%", "Mar 9, 2026", "March 9, 2026"),
        ("ru", "12 340", "62 %", f"9 мар. 2026{NNBSP}г.", f"9 марта 2026{NNBSP}г."),
        ("uk", "12 340", "62%", f"9 бер. 2026{NNBSP}р.", f"9 березня 2026{NNBSP}р."),
        ("es", "12.340", "62 %", "9 mar 2026", "9 de marzo de 2026"),
    ],
)
def test_numbers_and_dates(code: str, number: str, percent: str, medium: str, long: str) -> None:
    lang = Lang.of(code)
    assert lang.number(12_340) == number.replace(" ", NBSP)
    assert lang.percent(62) == percent.replace(" ", NBSP)
    assert lang.date(date(2026, 3, 9)) == medium
    assert lang.date(date(2026, 3, 9), "long") == long


@pytest.mark.parametrize(
    ("minor", "currency", "en", "ru"),
    [
        (2_000_000, "USD", "$20,000", "20 000 $"),  # whole amounts drop ",00"
        (12_340, "JPY", "¥12,340", "12 340 ¥"),  # no minor unit
        (12_345, "KWD", "KWD12.345", "12,345 KWD"),  # three decimals
        (12_300, "ISK", "ISK123", "123 ISK"),  # Stripe's two decimals, shown as Babel's none
        (-150, "EUR", "-€1.50", "-1,50 €"),
    ],
)
def test_money_minor_units(minor: int, currency: str, en: str, ru: str) -> None:
    assert Lang.of("en").money(minor, currency) == en
    assert Lang.of("ru").money(minor, currency) == ru.replace(" ", NBSP)


def test_importing_languages_pulls_in_no_service() -> None:
    """bot.i18n is a leaf: renderers in bot.donations import it without an import cycle."""
    code = "import sys, bot.i18n; print(sorted(m for m in sys.modules if m.startswith('bot.')))"
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert shown.stdout.strip() == (
        "['bot.i18n', 'bot.i18n.catalogues', 'bot.i18n.lang', 'bot.i18n.said']"
    )
