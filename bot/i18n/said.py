"""Errors whose message is for a person: kept as a msgid and fields, said in their language."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n.catalogues import DEFAULT_LANGUAGE
from bot.i18n.lang import Lang, Msg, Text


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units as a message field: written the reader's way."""

    minor: int
    currency: str


class Said(Exception):
    """An exception carrying a sentence for the person: `exc.text(lang)` in their language,
    `str(exc)` in English (for logs, check-config and tests)."""

    def __init__(self, message: Text, /, **fields: object) -> None:
        self.message = message
        self.fields = fields
        super().__init__(self.text(Lang.of(DEFAULT_LANGUAGE)))

    def text(self, lang: Lang) -> str:
        """The sentence in `lang` (an untranslated str stays as it is)."""
        values = {
            name: lang.money(v.minor, v.currency) if isinstance(v, Money) else v
            for name, v in self.fields.items()
        }
        if isinstance(self.message, Msg):
            return lang.gettext(self.message, **values)
        return self.message.format(**values) if values else self.message
