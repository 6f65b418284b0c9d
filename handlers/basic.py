"""/start and /help."""

from __future__ import annotations

from bot.chat import Block, Incoming, Post, Span, bold, bullets, code, para, span
from bot.context import CommandSpec, Context, Reply
from bot.i18n import N_, Lang, Msg

# The welcome the config ships with ([bot] welcome), translated when it is left as is.
DEFAULT_WELCOME = N_(
    "I post our new articles, take donations for our campaigns and report progress."
)


async def start(incoming: Incoming, ctx: Context) -> Reply:
    bot = ctx.services.config.bot
    welcome = (
        ctx.lang.gettext(DEFAULT_WELCOME) if bot.welcome == DEFAULT_WELCOME.msgid else (bot.welcome)
    )
    return Post(
        blocks=(
            para(bold(bot.name)),
            para(welcome),
            para(ctx.lang.gettext("Send /help to see what I can do.")),
        )
    )


def usage_of(spec: CommandSpec, lang: Lang) -> str:
    """ "/subscribe [topic ...]" with the argument words in the reader's language."""
    usage = lang.gettext(spec.usage) if isinstance(spec.usage, Msg) else spec.usage
    return f"/{spec.name}" + (f" {usage}" if usage else "")


def _help_line(spec: CommandSpec, lang: Lang) -> tuple[Span, ...]:
    return (code(usage_of(spec, lang)), span(" — " + lang.gettext(spec.summary)))


async def help_(incoming: Incoming, ctx: Context) -> Reply:
    """Every public command; admin commands only to admins."""
    lang = ctx.lang
    public = [s for s in ctx.commands if not s.admin]
    admin = [s for s in ctx.commands if s.admin]
    blocks: list[Block] = [
        para(bold(lang.gettext("Commands"))),
        bullets(*(_help_line(s, lang) for s in public)),
    ]
    if ctx.is_admin and admin:
        blocks += [
            para(bold(lang.gettext("Admin commands"))),
            bullets(*(_help_line(s, lang) for s in admin)),
        ]
    return Post(blocks=tuple(blocks))
