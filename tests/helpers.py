"""Helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.config import Config, parse_config

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def make_config(tmp_path: Path, **sections: Any) -> Config:
    """A valid config with the console enabled, plus whatever the test overrides."""
    data: dict[str, Any] = {
        "console": {"enabled": True, "user": "alice"},
        "admins": {"console": ["admin"]},
        "storage": {"path": str(tmp_path / "bot.sqlite3")},
    }
    data.update(sections)
    return parse_config(data, base_dir=tmp_path, environ={})
