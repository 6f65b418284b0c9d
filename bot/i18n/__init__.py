"""Languages: gettext catalogues shipped in the package, and Babel's locale formatting.

A handler gets the person's `Lang` from its context; a renderer takes one as an
argument; module-level text is marked with `N_` and translated once a reader is known:

```python
HEADING = N_("Our campaigns")

def progress_line(lang: Lang, raised: int, count: int) -> str:
    return lang.gettext(
        "{amount} raised, {donations}",
        amount=lang.money(raised, "USD"),
        donations=lang.donations(count),
    )

progress_line(lang_for("ru-RU"), 1_234_050, 21)  # "12 340,50 $ …, 21 пожертвование"
```

docs/languages.md tells how to extract new text and how to add a language.
"""

from bot.i18n.catalogues import (
    DEFAULT_LANGUAGE,
    UnknownLanguage,
    discover,
    read_catalogue,
    supported_languages,
    translations,
)
from bot.i18n.lang import N_, Lang, Msg, Text, lang_for, negotiate
from bot.i18n.said import Money, Said

__all__ = [
    "DEFAULT_LANGUAGE",
    "N_",
    "Lang",
    "Money",
    "Msg",
    "Said",
    "Text",
    "UnknownLanguage",
    "discover",
    "lang_for",
    "negotiate",
    "read_catalogue",
    "supported_languages",
    "translations",
]
