"""The pages read bot.i18n's catalogues: the same words, plurals and money as the chat."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.i18n import Lang, read_catalogue, supported_languages
from bot.storage import Database
from bot.web.lang import choose_language, translations_for
from tests.donations.conftest import RUSSIA
from tests.web.conftest import build, running, web_config

TRANSLATED = {
    **RUSSIA,
    "deadline": date(2026, 1, 22),  # 21 days after the tests' clock (2026-01-01)
    "translations": {
        "ru": {
            "title": "Российские антивоенные протестующие",
            "description": "Юридическая помощь задержанным на антивоенных акциях.",
        }
    },
}


@pytest.mark.parametrize("code", ["en", "es", "ru", "uk"])
def test_the_pages_catalogue_is_bot_i18ns(code: str) -> None:
    catalogue = read_catalogue(code)
    translations = translations_for(code)
    for msgid in ("Raised so far", "Donate", "Your gift is earmarked “%(earmark)s”."):
        assert translations.gettext(msgid) == catalogue[msgid].string
    assert translations.gettext("Donate") == Lang.of(code).gettext("Donate")


def test_the_language_is_negotiated_over_the_shipped_catalogues() -> None:
    assert choose_language("ru-RU", None) == "ru"
    assert choose_language(None, "pt-BR, es-419;q=0.5, ru;q=0.4") == "es"
    assert choose_language(None, "uk-UA;q=0.9, ru;q=0.8") == "uk"
    assert choose_language("xx", "de, fr;q=0, ru;q=0") == "en"
    assert choose_language(None, "ru;q=abc, es") == "es"


async def test_a_russian_page_reads_the_russian_catalogue(tmp_path: Path, db: Database) -> None:
    async with running(build(web_config(tmp_path, [TRANSLATED]), db)) as site:
        for n in range(21):
            await site.pay(f"cs_{n}", 100)
        page = await (await site.client.get("/campaigns/russia?lang=ru")).text()
    assert "<h1>Российские антивоенные протестующие</h1>" in page
    assert "Юридическая помощь задержанным" in page
    assert "Уже собрано" in page
    assert "21\xa0$ из 20\xa0000\xa0$" in page
    assert "21 пожертвование" in page  # the CLDR "one" form, as the chat says it
    assert "остался 21 день" in page
    assert "Назначение вашего пожертвования: «for Russian anti-war protesters»." in page
    assert ">Пожертвовать</button>" in page
    for english in ("Raised so far", ">Donate<", " donations<", "days left", " of $"):
        assert english not in page


async def test_the_language_switch_names_every_catalogue_in_itself(
    tmp_path: Path, db: Database
) -> None:
    async with running(build(web_config(tmp_path), db)) as site:
        page = await (await site.client.get("/campaigns?lang=uk")).text()
    assert "<h1>Збори</h1>" in page
    for code, name in zip(
        supported_languages(), ["English", "Español", "Русский", "Українська"], strict=True
    ):
        assert f'<a href="?lang={code}" hreflang="{code}" lang="{code}"' in page
        assert f">{name}</a>" in page
