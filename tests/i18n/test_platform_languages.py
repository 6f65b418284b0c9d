"""Languages end to end: Telegram (the stand-in) by `language_code`, Matrix (Synapse) after
`!language uk`, the console demo with `--lang ru`, and a channel configured in Russian."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.matrix_render import for_matrix, render_body, render_html
from bot.app import build_app
from bot.chat import Button, Post, para
from bot.chat.plain import render_plain
from bot.config import parse_config
from bot.demo.server import serve_sample_feed
from bot.storage import open_database
from tests.adapters.test_matrix_synapse import (
    bot_config,
    make_adapter,
    notices,
    replies_to,
    running_bot,
)
from tests.adapters.test_telegram_app import ADMIN, CHANNEL, USER, config_data, running
from tests.fakes.telegram import TelegramApi, telegram_api
from tests.synapse import Human, Synapse


def texts(api: TelegramApi, chat_id: int) -> list[str]:
    return [m.text for m in api.bot_messages(chat_id)]


async def test_a_russian_telegram_user_reads_russian_start_help_donate_and_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with telegram_api() as api:
        monkeypatch.setenv("OUTREACH_TEST_TG_TOKEN", api.token)
        api.user_languages[USER] = "ru"
        async with running(api, tmp_path):
            for n, command in enumerate(("/start", "/help", "/donate", "/progress"), start=1):
                api.inject_text(USER, command)
                await api.wait_until(lambda n=n: len(api.bot_messages(USER)) == n)  # type: ignore[misc]
    start, help_, donate, progress = texts(api, USER)
    assert "Отправьте /help, чтобы увидеть, что я умею." in start
    assert "Команды" in help_
    assert "/help — список команд" in help_
    assert "/donate" in help_
    assert "Команды для администраторов" not in help_
    assert "Выберите сумму" in donate
    assert "из 20\u00a0000\u00a0$" in progress  # Russian number formatting


async def test_menus_are_published_per_language_with_translated_descriptions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with telegram_api() as api:
        monkeypatch.setenv("OUTREACH_TEST_TG_TOKEN", api.token)
        api.add_chat(ADMIN)
        async with running(api, tmp_path):
            await api.wait_until(lambda: bool(api.menu(ADMIN, language_code="uk")), 10)
    russian = api.menu_descriptions(language_code="ru")
    assert russian["help"] == "список команд"
    assert russian["donate"] != api.menu_descriptions()["donate"]
    assert "announce" not in russian
    assert api.menu_descriptions()["help"] == "list the commands"  # the default: [bot] language
    assert api.menu_descriptions(ADMIN, language_code="ru")["announce"] == "разослать во все чаты"
    assert api.menu_descriptions(language_code="es")["help"] == "lista de comandos"
    assert set(api.menu(language_code="uk")) == set(api.menu())  # commands stay Latin


async def test_a_channel_configured_in_russian_and_a_russian_admins_announcement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with telegram_api() as api, serve_sample_feed() as feed_url:
        monkeypatch.setenv("OUTREACH_TEST_TG_TOKEN", api.token)
        api.add_chat(CHANNEL, "channel")
        api.add_chat(ADMIN)
        api.user_languages[ADMIN] = "ru"
        data: dict[str, Any] = config_data(api, tmp_path)
        data["channels"][0]["language"] = "ru"
        data["feeds"] = [
            {"name": "org", "url": feed_url, "channels": ["news"], "allow_private": True}
        ]
        config = parse_config(data, base_dir=tmp_path)
        async with open_database(config.database_path()) as db:
            app = build_app(config, db)
            task = asyncio.create_task(app.run())
            try:
                await api.wait_until(lambda: len(api.bot_messages(CHANNEL)) == 1, 15)
                api.inject_text(ADMIN, "/announce --to news Rally on Sunday")
                await api.wait_until(lambda: len(api.bot_messages(ADMIN)) == 2)
                prompt = api.bot_messages(ADMIN)[1]
                api.inject_text(ADMIN, "/confirm 1")
                await api.wait_until(lambda: len(api.bot_messages(CHANNEL)) == 2, 10)
                await api.wait_until(lambda: any("разослано" in t for t in texts(api, ADMIN)), 10)
            finally:
                app.request_stop()
                async with asyncio.timeout(15):
                    await task
    article, announcement = api.bot_messages(CHANNEL)
    labels = [b["text"] for row in article.keyboard for b in row]
    assert "Читать дальше" in labels or "Читать дальше" in article.text
    assert announcement.text == "Rally on Sunday"
    assert "Объявление #1" in prompt.text
    assert "получатели — 1 канал (telegram 1)" in prompt.text
    assert [b["text"] for row in prompt.keyboard for b in row] == ["Подтвердить", "Отменить"]
    admin_texts = "\n".join(texts(api, ADMIN))
    assert "Объявление #1 рассылается в 1 чат." in admin_texts  # not "1 chats"
    assert "Объявление #1 разослано" in admin_texts
    assert "отправлено: 1" in admin_texts


async def test_a_matrix_user_reads_ukrainian_after_language_uk(
    synapse: Synapse, tmp_path: Path
) -> None:
    bot, person = synapse.new_user("bot"), synapse.new_user("oksana")
    async with Human(synapse, person) as human:
        room_id = await human.create_room([bot.user_id])
        config = bot_config(tmp_path, synapse, bot, channel=room_id)
        async with (
            open_database(tmp_path / "bot.sqlite3") as db,
            running_bot(config, db, make_adapter(config, db, bot)),
        ):
            before = await human.send_text(room_id, "!help")
            await human.wait_until(lambda: bool(replies_to(human, room_id, bot, before)))
            chose = await human.send_text(room_id, "!language uk")
            await human.wait_until(lambda: bool(replies_to(human, room_id, bot, chose)))
            asked = await human.send_text(room_id, "!help")
            await human.wait_until(lambda: bool(replies_to(human, room_id, bot, asked)))
    english, done, ukrainian = (e["content"] for e in notices(human, room_id, bot))
    assert "Commands" in english["body"]
    assert done["body"].startswith("Готово: тепер я пишу вам мовою: Українська.")
    assert "Команди" in ukrainian["body"]
    assert "!help — перелік команд" in ukrainian["body"]
    assert "<strong>Команди</strong>" in ukrainian["formatted_body"]
    assert "list the commands" not in ukrainian["body"]


def run_demo(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_demo_chats_in_russian_with_lang_ru() -> None:
    result = run_demo("/help\n/progress\n", "--lang", "ru")
    assert result.returncode == 0, result.stderr
    assert "Демо outreach-bot: вы — «admin» (администратор). Наберите /help." in result.stdout
    assert "Страница демо-кампании: http://127.0.0.1:" in result.stdout
    assert "/help — список команд" in result.stdout
    assert "Команды для администраторов" in result.stdout
    assert "Российские антивоенные протестующие" in result.stdout  # the campaign, translated
    assert "list the commands" not in result.stdout


def test_the_demo_refuses_a_language_it_does_not_speak() -> None:
    result = run_demo("", "--lang", "pl")
    assert result.returncode == 2
    assert "--lang: no language 'pl': the bot speaks en, es, ru, uk" in result.stderr
    assert "Traceback" not in result.stderr


def test_button_hints_and_images_follow_the_posts_language() -> None:
    post = Post(
        blocks=(para("Объявление #1"),),
        image_url="https://example.org/card.png",
        buttons=((Button("Подтвердить", command="/confirm 1"),),),
        lang="ru",
    )
    console = render_plain(post)
    assert "Подтвердить: отправьте /confirm 1" in console
    assert "[изображение: https://example.org/card.png]" in console
    matrix = for_matrix(post)
    assert "Подтвердить: ответьте !confirm 1" in render_body(matrix)
    assert "Подтвердить: ответьте <code>!confirm 1</code>" in render_html(matrix)
    assert ">Изображение</a>" in render_html(matrix)
    assert "Confirm: send /confirm 1" in render_plain(
        Post(buttons=((Button("Confirm", command="/confirm 1"),),))
    )
