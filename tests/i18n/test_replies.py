"""Replies in the reader's language: /language on the console, /mydata and /forgetme,
a Telegram-style language_code, and a channel configured in Russian."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from bot.app import ConsoleIO, build_app
from bot.chat import ChatKind, ChatRef, Incoming, Post, Sender
from bot.chat.plain import render_plain
from bot.config import Config
from bot.donations.campaigns import Campaign
from bot.donations.render import milestone_post
from bot.feeds.article import Article
from bot.feeds.render import render_article
from bot.i18n import Lang
from bot.storage import Database
from bot.storage import outbox as q
from tests.helpers import make_config


async def console_session(config: Config, db: Database, lines: str) -> str:
    out = io.StringIO()
    app = build_app(config, db, ConsoleIO(stdin=io.StringIO(lines), stdout=out))
    async with asyncio.timeout(20):
        await app.run()
    return out.getvalue()


async def test_the_console_speaks_spanish_after_language_es(tmp_path: Path, db: Database) -> None:
    text = await console_session(
        make_config(tmp_path), db, "/language es\n/help\n/subscribe\n/mydata\n"
    )
    assert "Hecho: a partir de ahora te escribo en Español." in text
    assert "Comandos" in text
    assert "/language [código] — elegir tu idioma" in text
    assert "Suscripción hecha: recibirás todos los artículos nuevos." in text
    assert "Tu idioma: Español (es), elegido con /language." in text


async def test_language_is_listed_by_mydata_and_gone_after_forgetme(
    tmp_path: Path, db: Database
) -> None:
    text = await console_session(
        make_config(tmp_path), db, "/language ru\n/mydata\n/forgetme\n/mydata\n/language\n"
    )
    assert "Ваш язык: Русский (ru), выбран через /language." in text
    # /forgetme deleted the choice: it answers in the default language from then on.
    assert "Done: I deleted your subscriptions, your language choice" in text
    assert text.rstrip().endswith(
        "Send /language CODE to choose, or /language default to follow your app."
    )
    assert "I keep nothing about you." in text
    assert "• ru — Русский" in text
    assert "• uk — Українська" in text


async def test_an_unknown_language_lists_the_choices(tmp_path: Path, db: Database) -> None:
    text = await console_session(make_config(tmp_path), db, "/language xx\n")
    assert "I don't speak “xx”. I can write in these languages:" in text
    assert "• es — Español" in text


async def test_the_app_language_answers_until_a_choice_is_made(
    tmp_path: Path, db: Database
) -> None:
    app = build_app(
        make_config(tmp_path), db, ConsoleIO(stdin=io.StringIO(""), stdout=io.StringIO())
    )
    chat = ChatRef("telegram", "42", ChatKind.PRIVATE)
    ru = Sender("telegram", "42", "Ann", "ru-RU")

    async def say(text: str) -> str:
        reply = await app.router.handle(Incoming(chat, ru, text, "1"))
        assert isinstance(reply, Post)
        return render_plain(reply)

    assert "Отправьте /help, чтобы увидеть, что я умею." in await say("/start")
    assert "Отправьте /help" in await say("hello")
    assert "Done: I will write to you in English." in await say("/language en")
    assert "Send /help to see what I can do." in await say("/start")
    await say("/language default")
    assert "Отправьте /help" in await say("/start")


async def test_amounts_are_read_the_readers_way(tmp_path: Path, db: Database) -> None:
    campaign = {
        "id": "russia", "title": "Russian anti-war protesters",
        "earmark": "for Russian anti-war protesters", "goal": 20000, "currency": "USD",
        "amounts": [10, 50],
        "translations": {"ru": {"title": "Российские антивоенные протестующие"}},
    }  # fmt: skip
    config = make_config(
        tmp_path,
        campaigns=[campaign],
        donations={"static_url": "https://donate.example.org/give?c={campaign}&a={amount}"},
    )
    app = build_app(config, db, ConsoleIO(stdin=io.StringIO(""), stdout=io.StringIO()))
    chat = ChatRef("telegram", "7", ChatKind.PRIVATE)
    ru = Sender("telegram", "7", "Ann", "ru")

    async def say(text: str) -> str:
        reply = await app.router.handle(Incoming(chat, ru, text, "1"))
        assert isinstance(reply, Post)
        return render_plain(reply)

    assert "12,50\xa0$" in await say("/donate russia 12,50")
    assert "12,50\xa0$" in await say("/donate russia 12.50")
    refused = await say("/donate russia 1.234")
    assert "«1.234» можно понять двояко." in refused
    assert "Российские антивоенные протестующие" in await say("/progress")


def test_a_russian_channel_reads_russian_chrome() -> None:
    ru = Lang.of("ru")
    article = Article(
        key="1", url="https://e.org/1", canonical_url="https://e.org/1", title="Новости",
        author="Анна",
    )  # fmt: skip
    post = render_plain(render_article(article, ru, feed_title="Лента"))
    assert "Читать дальше" in post
    assert "автор: Анна · Лента" in post


async def test_channels_and_subscribers_are_grouped_by_language(
    tmp_path: Path, db: Database
) -> None:
    config = make_config(
        tmp_path,
        bot={"language": "en"},
        channels=[
            {"name": "novosti", "platform": "console", "chat": "ru-chan", "language": "ru"},
            {"name": "news", "platform": "console", "chat": "en-chan"},
        ],
    )
    app = build_app(config, db, ConsoleIO(stdin=io.StringIO(""), stdout=io.StringIO()))
    people = app.services.people
    await people.choose(Sender("console", "bob"), ChatRef("console", "bob"), "uk")
    targets = [
        q.Target("console", "ru-chan", "channel", "channel:novosti"),
        q.Target("console", "en-chan", "channel", "channel:news"),
        q.Target("console", "bob", "private", "subscriber"),
        q.Target("console", "eve", "private", "subscriber"),
    ]
    groups = {
        lang.code: [t.chat_id for t in group] for lang, group in await people.by_language(targets)
    }
    assert groups == {"en": ["en-chan", "eve"], "ru": ["ru-chan"], "uk": ["bob"]}


def test_a_milestone_in_russian() -> None:
    campaign = Campaign(
        id="russia", title="Russian anti-war protesters", earmark="x", goal=2_000_000,
        currency="USD", amounts=(1000,),
    )  # fmt: skip
    text = render_plain(milestone_post(campaign, 50, 1_000_000, Lang.of("ru")))
    assert "🎉 Russian anti-war protesters: собрано 50\xa0% от цели" in text
    assert "Собрано 10\xa0000\xa0$ из 20\xa0000\xa0$. Спасибо всем, кто помог." in text
