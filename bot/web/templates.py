"""Jinja2 templates with autoescape and gettext, one environment per language."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.web.lang import language_name, languages, translations_for


@lru_cache(maxsize=16)
def environment(lang: str) -> Environment:
    """The template environment for `lang`: autoescaped HTML, {% trans %} and _() bound to
    the language's bot.i18n catalogue (the same one the chat replies read)."""
    env = Environment(
        loader=PackageLoader("bot.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Added by the i18n extension at run time, so the type checker cannot see it.
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations_for(lang), newstyle=True
    )
    return env


def render(name: str, lang: str, **context: Any) -> str:
    """Render template `name` for a reader of `lang`."""
    # Each language named in itself for the language switch (never translated).
    switch = [(code, language_name(code)) for code in languages()]
    return environment(lang).get_template(name).render(lang=lang, languages=switch, **context)
