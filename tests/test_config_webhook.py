"""A Telegram webhook must have a secret token, in the alphabet Telegram accepts.

Without one, anyone who finds the URL can post updates, `/announce` as an admin
included. The secret itself lives in an environment variable; its format is
checked when the variable is set, and its value never appears in a message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, parse_config

TOKEN = {"TELEGRAM_BOT_TOKEN": "123:" + "a" * 35}
WEBHOOK = {"enabled": True, "webhook_url": "https://bot.example.org/telegram"}
CONFIG = """
[telegram]
enabled = true
webhook_url = "https://bot.example.org/telegram"
{secret_line}

[storage]
path = "bot.sqlite3"
"""


def problems(telegram: dict[str, object], environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config({"telegram": telegram}, environ=environ)
    return caught.value.problems


def test_a_webhook_without_a_secret_is_a_config_error() -> None:
    [problem] = problems(WEBHOOK, TOKEN)
    assert problem.startswith("telegram.webhook_secret_env: required when webhook_url is set")


@pytest.mark.parametrize(
    "secret",
    ["has space", "base64+/=", "секрет", "x" * 257, "new\nline"],
)
def test_a_secret_telegram_would_refuse_is_reported_without_its_value(secret: str) -> None:
    environ = TOKEN | {"TG_HOOK_SECRET": secret}
    [problem] = problems(WEBHOOK | {"webhook_secret_env": "TG_HOOK_SECRET"}, environ)
    assert problem == (
        "telegram.webhook_secret_env: environment variable TG_HOOK_SECRET must hold 1-256 "
        "characters of A-Z a-z 0-9 _ - (Telegram refuses any other secret token)"
    )
    assert secret not in problem


def test_an_unset_secret_variable_is_reported() -> None:
    [problem] = problems(WEBHOOK | {"webhook_secret_env": "TG_HOOK_SECRET"}, TOKEN)
    assert problem == "telegram.webhook_secret_env: environment variable TG_HOOK_SECRET is not set"


@pytest.mark.parametrize("secret", ["Az09_-", "x" * 256, "s3cret-Token"])
def test_a_secret_in_telegrams_alphabet_is_accepted(secret: str) -> None:
    environ = TOKEN | {"TG_HOOK_SECRET": secret}
    config = parse_config(
        {"telegram": WEBHOOK | {"webhook_secret_env": "TG_HOOK_SECRET"}}, environ=environ
    )
    assert config.telegram.webhook_secret_env == "TG_HOOK_SECRET"
    assert secret in config.secrets(environ)  # redacted from logs like the token


def test_long_polling_needs_no_secret() -> None:
    config = parse_config({"telegram": {"enabled": True}}, environ=TOKEN)
    assert config.telegram.webhook_url is None


def write_config(tmp_path: Path, secret_line: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(secret_line=secret_line))
    return path


@pytest.mark.parametrize("command", ["check-config", "run"])
def test_check_config_and_run_refuse_a_webhook_without_a_secret(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN["TELEGRAM_BOT_TOKEN"])
    path = write_config(tmp_path, "")
    assert main([command, "-c", str(path)]) == 1
    err = capsys.readouterr().err
    assert "telegram.webhook_secret_env: required when webhook_url is set" in err
    assert not (tmp_path / "bot.sqlite3").exists()  # refused before anything started


def test_check_config_reports_a_secret_of_the_wrong_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN["TELEGRAM_BOT_TOKEN"])
    monkeypatch.setenv("TG_HOOK_SECRET", "made/by+base64=")
    path = write_config(tmp_path, 'webhook_secret_env = "TG_HOOK_SECRET"')
    assert main(["check-config", "-c", str(path)]) == 1
    out = capsys.readouterr()
    assert "telegram.webhook_secret_env: environment variable TG_HOOK_SECRET must hold" in out.err
    assert "made/by+base64=" not in out.err + out.out
    monkeypatch.setenv("TG_HOOK_SECRET", "made-by-hex-0123abcd")
    assert main(["check-config", "-c", str(path)]) == 0
    assert "OK (telegram enabled" in capsys.readouterr().out
