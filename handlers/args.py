"""Parsing the small arguments many commands share."""

from __future__ import annotations

# SQLite integers are signed 64-bit: a longer "number" names nothing we store.
_MAX_ID = 2**63 - 1


def parse_id(text: str) -> int | None:
    """A record number as people type it ("12" or "#12"), or None when it is not one."""
    digits = text.strip().removeprefix("#")
    if not digits.isdigit() or not digits.isascii():
        return None
    value = int(digits)
    return value if value <= _MAX_ID else None
