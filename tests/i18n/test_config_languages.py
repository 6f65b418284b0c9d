"""Language keys in the config: [bot] language, [[channels]] language, campaign translations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, load_config, parse_config
from bot.donations import campaign_from_config
from tests.helpers import PROJECT_ROOT

EXAMPLE_ENV = {"TELEGRAM_BOT_TOKEN": "123:abc", "MATRIX_ACCESS_TOKEN": "syt_x"}


def _config(**sections: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "console": {"enabled": True},
        "donations": {"static_url": "https://example.org/donate?c={campaign}"},
        "channels": [{"name": "news", "platform": "console", "chat": "news"}],
        "campaigns": [
            {
                "id": "russia",
                "title": "Russian anti-war protesters",
                "earmark": "for Russian anti-war protesters",
                "description": "Legal aid and fines.",
                "goal": 10000,
            }
        ],
    }
    data.update(sections)
    return data


def test_languages_default_to_english_and_channels_follow_the_bot() -> None:
    config = parse_config(_config(), environ={})
    assert config.bot.language == "en"
    assert config.channel_language(config.channels[0]) == "en"
    config = parse_config(_config(bot={"language": "uk"}), environ={})
    assert config.channel_language(config.channels[0]) == "uk"


def test_a_channel_posts_in_its_own_language() -> None:
    channels = [{"name": "novosti", "platform": "console", "chat": "ru", "language": "ru"}]
    config = parse_config(_config(channels=channels), environ={})
    assert config.channel_language(config.channels[0]) == "ru"


def test_campaign_texts_fall_back_to_the_configured_ones() -> None:
    data = _config()
    data["campaigns"][0]["translations"] = {
        "ru": {"title": "Российские антивоенные протестующие"},
        "es": {"description": "Asistencia legal y multas."},
    }
    entry = parse_config(data, environ={}).campaigns[0]
    for campaign in (entry, campaign_from_config(entry)):
        assert campaign.title_in("ru") == "Российские антивоенные протестующие"
        assert campaign.description_in("ru") == "Legal aid and fines."
        assert campaign.title_in("es") == "Russian anti-war protesters"
        assert campaign.description_in("es") == "Asistencia legal y multas."
        assert campaign.title_in("uk") == "Russian anti-war protesters"
    assert campaign_from_config(entry).earmark == "for Russian anti-war protesters"


def test_language_problems_are_reported_together_with_their_key_paths() -> None:
    data = _config(bot={"language": "de"})
    data["channels"][0]["language"] = "ua"
    data["campaigns"][0]["translations"] = {
        "ru": {"title": "Т", "earmark": "для протестующих", "goal": 5},
        "be": {"title": "Т"},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(data, environ={})
    assert caught.value.problems == [
        "bot.language: unknown language 'de' (supported: en, es, ru, uk)",
        "channels[0].language: unknown language 'ua' (supported: en, es, ru, uk)",
        "campaigns[0].translations.ru.earmark: not a translatable campaign field "
        "(translatable: title, description); the earmark stays one fixed string",
        "campaigns[0].translations.ru.goal: not a translatable campaign field "
        "(translatable: title, description)",
        "campaigns[0].translations.be: unknown language 'be' (supported: en, es, ru, uk)",
    ]


def test_the_example_config_translates_its_campaign() -> None:
    config = load_config(PROJECT_ROOT / "config.example.toml", environ=EXAMPLE_ENV)
    campaign = config.campaigns[0]
    assert campaign.title_in("ru") == "Российские антивоенные протестующие"
    assert {c.name: config.channel_language(c) for c in config.channels} == {
        "news-telegram": "en",
        "news-matrix": "en",
    }


def test_check_config_names_an_unknown_language(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[bot]\nlanguage = "pt-br"\n\n[console]\nenabled = true\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "bot.language: unknown language 'pt-br' (supported: en, es, ru, uk)" in result.stderr
