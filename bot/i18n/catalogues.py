"""The translation catalogues shipped in the package: discovered, read from `.po`, cached.

Catalogues are read straight from the `.po` files at first use (no compile step at
install time): Babel parses them, and the stdlib's GNUTranslations does the lookups
and the plural arithmetic from each catalogue's own `Plural-Forms` header. Fuzzy
entries are left out, as gettext does: a fuzzy translation is a guess nobody checked.
"""

from __future__ import annotations

import functools
import gettext
import io
from importlib import resources
from importlib.resources.abc import Traversable

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"


class UnknownLanguage(LookupError):
    """No catalogue ships for this language code."""


def locales_folder() -> Traversable:
    """`bot/locales`, wherever the package is installed (a checkout, a wheel, a zip)."""
    return resources.files("bot") / "locales"


def _po_file(code: str, folder: Traversable | None = None) -> Traversable:
    return (folder or locales_folder()) / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def discover(folder: Traversable) -> tuple[str, ...]:
    """The languages with a `<code>/LC_MESSAGES/messages.po` in `folder`, sorted."""
    found = [
        entry.name
        for entry in folder.iterdir()
        if entry.is_dir() and _po_file(entry.name, folder).is_file()
    ]
    return tuple(sorted(found))


@functools.cache
def supported_languages() -> tuple[str, ...]:
    """Every language with a catalogue: adding a language is adding one `.po` file."""
    return discover(locales_folder())


def read_catalogue(code: str) -> Catalog:
    """The parsed `.po` catalogue of `code` (a fresh object: callers may inspect it freely)."""
    if code not in supported_languages():
        raise UnknownLanguage(code)
    with _po_file(code).open("rb") as po:
        return read_po(po, locale=code, domain=DOMAIN)


@functools.cache
def translations(code: str) -> gettext.GNUTranslations:
    """The lookups for `code`, built once per process from its `.po` file."""
    compiled = io.BytesIO()
    write_mo(compiled, read_catalogue(code), use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
