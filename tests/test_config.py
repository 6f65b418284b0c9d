from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, parse_config, parse_duration
from tests.helpers import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "config.example.toml"
EXAMPLE_ENV = {"TELEGRAM_BOT_TOKEN": "123:abc", "MATRIX_ACCESS_TOKEN": "syt_x"}

BROKEN = """
[bot]
nmae = "typo"

[telegram]
enabled = true
token_env = "OUTREACH_TEST_UNSET_TOKEN"

[[channels]]
name = "news"
platform = "telegram"
chat = "@news"

[[feeds]]
name = "a"
url = "https://example.org/a.xml"

[[feeds]]
name = "b"
url = "https://example.org/b.xml"
interval = "10s"

[[feeds]]
name = "c"
url = "ftp://example.org/c.xml"

[[campaigns]]
id = "Bad Id"
title = "x"
earmark = "for x"
goal = -5

[admins]
matrix = ["organiser"]
"""


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE, environ=EXAMPLE_ENV)
    assert config.enabled_platforms() == ["telegram", "matrix"]
    assert [c.name for c in config.channels] == ["news-telegram", "news-matrix"]
    assert config.feeds[0].interval == 600
    assert config.database_path() == EXAMPLE.parent / "outreach.sqlite3"


def test_broken_config_reports_every_problem_with_its_key_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    problems = caught.value.problems
    expected = [
        "bot.nmae: unknown key",
        "telegram.token_env: environment variable OUTREACH_TEST_UNSET_TOKEN is not set",
        "feeds[1].interval: Input should be greater than or equal to 60",
        "feeds[2].url: not an http(s) URL",
        "campaigns[0].id: String should match pattern",
        "campaigns[0].goal: Input should be greater than 0",
        "admins.matrix[0]: 'organiser' is not a full Matrix user id",
    ]
    for fragment in expected:
        assert any(p.startswith(fragment) for p in problems), (fragment, problems)
    assert len(problems) == len(expected)


def test_cross_references_are_reported_together(tmp_path: Path) -> None:
    data = {
        "console": {"enabled": True},
        "channels": [
            {"name": "tg", "platform": "telegram", "chat": "@x"},
            {"name": "tg", "platform": "console", "chat": "news"},
        ],
        "feeds": [{"name": "a", "url": "https://example.org/f", "channels": ["nowhere"]}],
        "campaigns": [
            {"id": "c", "title": "C", "earmark": "for c", "goal": 10, "provider": "stripe"}
        ],
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(data, environ={})
    problems = caught.value.problems
    assert "channels[1]: duplicate name 'tg'" in problems
    assert any(p.startswith("channels[0].platform: telegram is not enabled") for p in problems)
    assert "feeds[0].channels[0]: no channel named 'nowhere'" in problems
    assert "stripe.secret_key_env: environment variable STRIPE_SECRET_KEY is not set" in problems


def test_static_url_template_placeholders_are_checked() -> None:
    data = {"donations": {"static_url": "https://example.org/?c={campain}"}}
    with pytest.raises(ConfigError) as caught:
        parse_config(data, environ={})
    assert caught.value.problems[0].startswith("donations.static_url: unknown placeholder")


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[bot\nname=1")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems[0].startswith("not valid TOML")


@pytest.mark.parametrize(
    ("value", "seconds"), [(90, 90.0), ("90s", 90.0), ("10m", 600.0), ("1h", 3600.0)]
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


def test_check_config_command_exit_codes(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(BROKEN)
    bad = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", "-c", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 1
    assert "7 problem(s)" in bad.stderr
    assert "feeds[2].url: not an http(s) URL" in bad.stderr
    good = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", "-c", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", **EXAMPLE_ENV},
    )
    assert good.returncode == 0, good.stderr
    assert "OK" in good.stdout
