"""What makes a catalogue unfit to ship, as a list of problems a translator can act on."""

from __future__ import annotations

import re
import string
from collections import Counter
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from tests.helpers import PROJECT_ROOT

Key = tuple[str, str | None]  # msgid, context
Extracted = dict[Key, str | None]  # -> msgid_plural (None for a singular message)

_PERCENT = re.compile(r"%(?:\((\w+)\))?[#0\- +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")


def extract_from_code(root: Path = PROJECT_ROOT) -> Extracted:
    """Every msgid the code asks for, found the way `pybabel extract -F babel.cfg` finds them."""
    with (root / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: Extracted = {}
    for _file, _line, message, _comments, context in extract_from_dir(
        str(root), method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        if isinstance(message, tuple):
            singular, plural = message[0], message[1]
            found[(singular, context)] = plural
        else:
            found[(message, context)] = None
    return found


def placeholders(text: str) -> Counter[str]:
    """The `{name}` and `%(name)s` fields of a text (a bare `%s` counts as "%s")."""
    fields: Counter[str] = Counter()
    for _literal, name, _spec, _conversion in string.Formatter().parse(text):
        if name is not None:
            fields["{" + re.split(r"[.\[]", name, maxsplit=1)[0] + "}"] += 1
    for match in _PERCENT.finditer(text):
        if match.group(0) != "%%":
            fields[f"%({match.group(1)})" if match.group(1) else match.group(0)] += 1
    return fields


def _fields(text: str) -> set[str] | str:
    try:
        return set(placeholders(text))
    except ValueError as exc:  # unbalanced braces: str.format would fail at run time
        return f"unreadable placeholders ({exc})"


def _translation_problems(label: str, message: Message, source: str, forms: list[str]) -> list[str]:
    problems = []
    expected = _fields(source)
    for i, form in enumerate(forms):
        where = f"{label} form {i}" if len(forms) > 1 else label
        if not form:
            problems.append(f"{where}: untranslated")
            continue
        got = _fields(form)
        if isinstance(got, str) or isinstance(expected, str):
            problems.append(f"{where}: {got if isinstance(got, str) else expected}")
        elif got != expected:
            dropped, added = sorted(expected - got), sorted(got - expected)
            problems.append(f"{where}: placeholders differ (dropped {dropped}, added {added})")
    if message.fuzzy:
        problems.append(f"{label}: fuzzy (review it, then remove the fuzzy flag)")
    return problems


def catalogue_problems(extracted: Extracted, catalogue: Catalog) -> list[str]:
    """Missing, fuzzy, untranslated, placeholder-changing or short-of-plural-forms entries."""
    problems = []
    lang = str(catalogue.locale)
    for (msgid, context), plural in sorted(extracted.items(), key=lambda kv: kv[0][0]):
        label = f"{lang}: {msgid!r}" + (f" (context {context!r})" if context else "")
        message = catalogue.get(msgid, context=context)
        if message is None:
            problems.append(f"{label}: missing (run the pybabel update in docs/languages.md)")
            continue
        if plural is None:
            if not isinstance(message.string, str):
                problems.append(f"{label}: a plural entry where the code asks for a singular")
                continue
            problems += _translation_problems(label, message, msgid, [message.string])
            continue
        if isinstance(message.string, str) or not isinstance(message.id, tuple):
            problems.append(f"{label}: a singular entry where the code asks for ngettext")
            continue
        forms = list(message.string)
        if len(forms) != catalogue.num_plurals:
            problems.append(
                f"{label}: {len(forms)} plural form(s), the locale needs {catalogue.num_plurals}"
            )
        problems += _translation_problems(label, message, plural, forms)
    return problems
