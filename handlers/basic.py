"""/start and /help."""

from __future__ import annotations

from bot.chat import Block, Incoming, Post, Span, bold, bullets, code, para, span
from bot.context import CommandSpec, Context, Reply


async def start(incoming: Incoming, ctx: Context) -> Reply:
    bot = ctx.services.config.bot
    return Post(
        blocks=(
            para(bold(bot.name)),
            para(bot.welcome),
            para("Send ", code("/help"), " to see what I can do."),
        )
    )


def _help_line(spec: CommandSpec) -> tuple[Span, ...]:
    usage = f"/{spec.name}" + (f" {spec.usage}" if spec.usage else "")
    return (code(usage), span(" — " + spec.summary))


async def help_(incoming: Incoming, ctx: Context) -> Reply:
    """Every public command; admin commands only to admins."""
    public = [s for s in ctx.commands if not s.admin]
    admin = [s for s in ctx.commands if s.admin]
    blocks: list[Block] = [para(bold("Commands")), bullets(*(_help_line(s) for s in public))]
    if ctx.is_admin and admin:
        blocks += [para(bold("Admin commands")), bullets(*(_help_line(s) for s in admin))]
    return Post(blocks=tuple(blocks))
