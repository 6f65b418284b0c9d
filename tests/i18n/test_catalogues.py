"""The four catalogues are complete for every msgid in the code, and Babel formats right."""

from __future__ import annotations

import io
import textwrap
import tomllib
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.i18n import Lang, read_catalogue, supported_languages
from tests.helpers import PROJECT_ROOT
from tests.i18n.catalogue_checks import Extracted, catalogue_problems, extract_from_code

LANGUAGES = ["en", "es", "ru", "uk"]


@pytest.fixture(scope="module")
def extracted() -> Extracted:
    return extract_from_code()


def test_the_four_languages_ship() -> None:
    assert list(supported_languages()) == LANGUAGES


def test_extraction_finds_the_shared_phrases(extracted: Extracted) -> None:
    assert extracted[("{n} donation", None)] == "{n} donations"
    assert extracted[("{n} day left", None)] == "{n} days left"
    assert ("ended", "campaign") in extracted


@pytest.mark.parametrize("code", LANGUAGES)
def test_catalogue_is_complete(extracted: Extracted, code: str) -> None:
    assert catalogue_problems(extracted, read_catalogue(code)) == []


def test_template_lists_every_msgid_in_the_code(extracted: Extracted) -> None:
    with (PROJECT_ROOT / "bot" / "locales" / "messages.pot").open("rb") as pot:
        template = read_po(pot)
    missing = [key for key in extracted if template.get(key[0], context=key[1]) is None]
    assert missing == [], "run the pybabel extract in docs/languages.md"


# --- the checker itself catches each kind of fault --------------------------------------

BAD_RU = """\
msgid ""
msgstr ""
"Language: ru\\n"
"Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && "
"n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);\\n"

#, fuzzy
msgid "Hello, {name}!"
msgstr "Привет, {name}!"

msgid "Raised {amount} of {goal}"
msgstr "Собрано {amount}"

msgid "Sent to %(count)s chats"
msgstr "Отправлено в %(chats)s чатов"

msgid "Nothing here"
msgstr ""

msgid "{n} chat"
msgid_plural "{n} chats"
msgstr[0] "{n} чат"
msgstr[1] "{n} чата"
"""


def _bad_catalogue() -> Catalog:
    return read_po(io.StringIO(textwrap.dedent(BAD_RU)), locale="ru")


def test_checker_reports_each_fault() -> None:
    wanted: Extracted = {
        ("Hello, {name}!", None): None,
        ("Raised {amount} of {goal}", None): None,
        ("Sent to %(count)s chats", None): None,
        ("Nothing here", None): None,
        ("{n} chat", None): "{n} chats",
        ("Not in the file", None): None,
    }
    problems = catalogue_problems(wanted, _bad_catalogue())
    expected = [
        "ru: 'Hello, {name}!': fuzzy",
        "ru: 'Raised {amount} of {goal}': placeholders differ (dropped ['{goal}'], added [])",
        "ru: 'Sent to %(count)s chats': placeholders differ (dropped ['%(count)'], "
        "added ['%(chats)'])",
        "ru: 'Nothing here': untranslated",
        # Babel pads a short plural entry with empty forms: the missing one is untranslated.
        "ru: '{n} chat' form 2: untranslated",
        "ru: 'Not in the file': missing",
    ]
    for fragment in expected:
        assert any(p.startswith(fragment) for p in problems), (fragment, problems)


def test_checker_reports_an_added_placeholder_and_a_plural_used_as_singular() -> None:
    po = 'msgid ""\nmsgstr ""\n"Language: es\\n"\n\nmsgid "Thanks"\nmsgstr "Gracias, {name}"\n'
    catalogue = read_po(io.StringIO(po), locale="es")
    problems = catalogue_problems({("Thanks", None): "Thanks all"}, catalogue)
    assert problems == ["es: 'Thanks': a singular entry where the code asks for ngettext"]
    problems = catalogue_problems({("Thanks", None): None}, catalogue)
    assert problems == ["es: 'Thanks': placeholders differ (dropped [], added ['{name}'])"]


def test_extraction_sees_every_keyword(tmp_path: Path) -> None:
    (tmp_path / "babel.cfg").write_text("[python: bot/**.py]\n")
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "sample.py").write_text(
        textwrap.dedent(
            """
            TITLE = N_("Campaign progress")
            def render(lang, n):
                return [
                    lang.gettext("Donate"),
                    lang.ngettext("{n} chat", "{n} chats", n),
                    lang.pgettext("button", "Open"),
                    lang.npgettext("report", "{n} sent", "{n} sent", n),
                ]
            """
        )
    )
    assert extract_from_code(tmp_path) == {
        ("Campaign progress", None): None,
        ("Donate", None): None,
        ("{n} chat", None): "{n} chats",
        ("Open", "button"): None,
        ("{n} sent", "report"): "{n} sent",
    }


# --- plural and money tables --------------------------------------------------------------

PLURALS = {
    "en": ["1 donation", "2 donations", "5 donations", "21 donations"],
    "ru": ["1 пожертвование", "2 пожертвования", "5 пожертвований", "21 пожертвование"],
    "uk": ["1 пожертва", "2 пожертви", "5 пожертв", "21 пожертва"],
    "es": ["1 donación", "2 donaciones", "5 donaciones", "21 donaciones"],
}
DAYS = {
    "en": ["1 day left", "2 days left", "5 days left", "21 days left"],
    "ru": ["остался 1 день", "осталось 2 дня", "осталось 5 дней", "остался 21 день"],
    "uk": ["залишився 1 день", "залишилося 2 дні", "залишилося 5 днів", "залишився 21 день"],
    "es": ["queda 1 día", "quedan 2 días", "quedan 5 días", "quedan 21 días"],
}


@pytest.mark.parametrize("code", LANGUAGES)
def test_plural_forms_for_1_2_5_21(code: str) -> None:
    lang = Lang.of(code)
    assert [lang.donations(n) for n in (1, 2, 5, 21)] == PLURALS[code]
    assert [lang.days_left(n) for n in (1, 2, 5, 21)] == DAYS[code]


NBSP = "\xa0"
# 0.5 and 12340.5 in USD, EUR, RUB (cents), and 12340 JPY (no minor unit): what Babel writes.
MONEY = {
    "en": ["$0.50", "$12,340.50", "€0.50", "€12,340.50", "RUB0.50", "RUB12,340.50", "¥12,340"],
    "ru": ["0,50 $", "12 340,50 $", "0,50 €", "12 340,50 €", "0,50 ₽", "12 340,50 ₽", "12 340 ¥"],
    "uk": [
        "0,50 USD", "12 340,50 USD", "0,50 EUR", "12 340,50 EUR",
        "0,50 RUB", "12 340,50 RUB", "12 340 ¥",
    ],
    "es": [
        "0,50 US$", "12.340,50 US$", "0,50 €", "12.340,50 €",
        "0,50 RUB", "12.340,50 RUB", "12.340 JPY",
    ],
}  # fmt: skip


@pytest.mark.parametrize("code", LANGUAGES)
def test_money_by_locale(code: str) -> None:
    lang = Lang.of(code)
    shown = [
        lang.money(minor, currency)
        for currency in ("USD", "EUR", "RUB")
        for minor in (50, 1_234_050)
    ] + [lang.money(12_340, "JPY")]
    assert shown == [s.replace(" ", NBSP) for s in MONEY[code]]


def test_every_catalogue_is_package_data() -> None:
    """A wheel carries what pyproject's package-data names: every catalogue must match."""
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["bot"]
    package = PROJECT_ROOT / "bot"
    files = [p.relative_to(package) for p in (package / "locales").rglob("*.po*")]
    assert len(files) == len(LANGUAGES) + 1
    unshipped = [f for f in files if not any(f.match(g) for g in globs)]
    assert unshipped == []
