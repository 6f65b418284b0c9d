"""/language: show or choose the language the bot speaks to a person."""

from __future__ import annotations

from dataclasses import replace

from babel import Locale

from bot.chat import Block, Incoming, Post, bullets, code, para, span
from bot.context import Context, Reply
from bot.i18n import Lang, supported_languages

# What puts a person back on their chat app's language (or the bot's default).
RESET_WORDS = ("default", "reset", "auto")


def own_name(code_: str) -> str:
    """A language's name in itself: "Русский", "Українська", "Español", "English"."""
    name = Locale.parse(code_).get_display_name(code_) or code_
    return name[:1].upper() + name[1:]


def _choices(lang: Lang) -> tuple[Block, ...]:
    return (
        bullets(*((code(c), span(" — " + own_name(c))) for c in supported_languages())),
        para(
            lang.gettext("Send /language CODE to choose, or /language default to follow your app.")
        ),
    )


async def language(incoming: Incoming, ctx: Context) -> Reply:
    """Without an argument: the current language and the choices; with one: choose it."""
    people = ctx.services.people
    if not ctx.args:
        chosen = await people.chosen(incoming.platform, incoming.sender.id)
        if chosen is None:
            now = ctx.lang.gettext(
                "I write to you in {language}, as your app or this bot is set up.",
                language=own_name(ctx.lang.code),
            )
        else:
            now = ctx.lang.gettext(
                "I write to you in {language}, as you chose.", language=own_name(ctx.lang.code)
            )
        return Post(blocks=(para(now), *_choices(ctx.lang)))
    wanted = ctx.args[0].strip().lower().replace("_", "-")
    if wanted in RESET_WORDS:
        await people.choose(incoming.sender, incoming.chat, None)
        lang = await people.lang_of(incoming.sender)
        done = lang.gettext(
            "Done: I forgot your choice and write in {language}.", language=own_name(lang.code)
        )
        return replace(Post.text(done), lang=lang.code)
    if wanted not in supported_languages():
        text = ctx.lang.gettext(
            "I don't speak “{code}”. I can write in these languages:", code=ctx.args[0]
        )
        return Post(blocks=(para(text), *_choices(ctx.lang)))
    await people.choose(incoming.sender, incoming.chat, wanted)
    lang = Lang.of(wanted)
    done = lang.gettext(
        "Done: I will write to you in {language}. /mydata lists this choice and "
        "/forgetme deletes it.",
        language=own_name(wanted),
    )
    return replace(Post.text(done), lang=wanted)
