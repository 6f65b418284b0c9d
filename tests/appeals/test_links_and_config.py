"""`outreach-bot links`, deep-link payloads, and what check-config says about appeals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.appeals.links import DeepLink, read_payload
from bot.cli import main
from bot.config import ConfigError
from tests.fakes.telegram import telegram_api
from tests.helpers import make_config

CAMPAIGN = {"id": "russia", "title": "Russia", "earmark": "for Russia", "goal": 100}
STATIC = {"static_url": "https://d.example.org/?c={campaign}"}


def write_config(tmp_path: Path, telegram: str) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(
        f"""
[telegram]
{telegram}
[web]
public_url = "https://give.example.org"
[donations]
static_url = "https://d.example.org/?c={{campaign}}"
[console]
enabled = true
[[feeds]]
name = "org"
url = "https://example.org/feed"
campaign = "russia"
topics = {{ "News" = "news", "Ру" = "новости" }}
[[campaigns]]
id = "russia"
title = "Russia"
earmark = "for Russia"
goal = 100
match = ["anti-war"]
""",
        encoding="utf-8",
    )
    return path


def test_links_from_the_configured_username(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["links", "-c", str(write_config(tmp_path, 'username = "org_bot"'))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Telegram bot: @org_bot",
        "donate russia: https://t.me/org_bot?start=donate-russia",
        "progress russia: https://t.me/org_bot?start=progress-russia",
        "subscribe news: https://t.me/org_bot?start=subscribe-news",
        "subscribe новости: (a link cannot carry this name)",
        "page russia: https://give.example.org/campaigns/russia",
    ]


async def test_links_ask_telegram_for_the_name_without_showing_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with telegram_api() as api:
        monkeypatch.setenv("TG_LINKS", api.token)
        path = write_config(tmp_path, f'token_env = "TG_LINKS"\napi_base = "{api.url}/bot"')
        assert await asyncio.to_thread(main, ["links", "-c", str(path)]) == 0
        assert api.stats.calls["getMe"] == 1
    out = capsys.readouterr()
    assert "donate russia: https://t.me/outreach_test_bot?start=donate-russia" in out.out
    monkeypatch.delenv("TG_LINKS")
    assert await asyncio.to_thread(main, ["links", "-c", str(path)]) == 1
    err = capsys.readouterr().err
    assert "set [telegram] username" in err
    assert api.token not in err


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("donate-russia", DeepLink("donate", "russia")),
        ("progress-Russia", DeepLink("progress", "russia")),
        ("subscribe-news", DeepLink("subscribe", "news")),
        ("donate-", None),
        ("donate", None),
        ("refund-russia", None),
        ("", None),
    ],
)
def test_read_payload(payload: str, expected: DeepLink | None) -> None:
    assert read_payload(payload) == expected


def test_check_config_reports_a_feed_naming_an_unknown_campaign(tmp_path: Path) -> None:
    feed = {"name": "org", "url": "https://example.org/feed", "campaign": "nosuch"}
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, feeds=[feed], campaigns=[CAMPAIGN], donations=STATIC)
    assert "feeds[0].campaign: no campaign with id 'nosuch'" in caught.value.problems


def test_a_web_donate_button_needs_the_public_pages(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, bot={"donate_button": "web"}, campaigns=[CAMPAIGN], donations=STATIC)
    assert any(p.startswith("bot.donate_button:") for p in caught.value.problems)
    config = make_config(
        tmp_path, bot={"donate_button": "web"}, campaigns=[CAMPAIGN], donations=STATIC,
        web={"public_url": "https://give.example.org"},
    )  # fmt: skip
    assert config.bot.donate_button == "web"
