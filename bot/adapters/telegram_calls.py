"""One Bot API call each, from a rendered payload (I/O through PTB's bot; no adapter state)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from telegram import BotCommand, InputMediaPhoto, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from bot.adapters.telegram_edit import EditCall
from bot.adapters.telegram_map import markup
from bot.adapters.telegram_render import SEND_PHOTO, Payload
from bot.chat.text import truncate, utf16_len

log = logging.getLogger(__name__)
T = TypeVar("T")

COMMAND_SUMMARY_MAX = 256  # Telegram's limit for a command's description


def bot_command(name: str, summary: str) -> BotCommand:
    """A menu entry; a long summary is cut (between whole characters) to Telegram's limit."""
    return BotCommand(name, truncate(summary, COMMAND_SUMMARY_MAX, measure=utf16_len))


async def send_payload(
    bot: ExtBot[Any], chat_id: str, payload: Payload, reply_to: str | None, *, paid: bool = False
) -> Message:
    """sendMessage or sendPhoto; a reply to a message that is gone is sent without the quote.
    `paid`: a paid broadcast (allow_paid_broadcast; fan-outs only)."""
    allow_paid = True if paid else None  # None: the parameter is not sent at all
    reply = None
    if reply_to is not None and reply_to.isdigit():
        reply = ReplyParameters(int(reply_to), allow_sending_without_reply=True)
    keyboard = markup(payload.keyboard)
    if payload.method == SEND_PHOTO:
        assert payload.photo is not None
        return await bot.send_photo(
            chat_id,
            payload.photo,
            caption=payload.html or None,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
            reply_parameters=reply,
            allow_paid_broadcast=allow_paid,
        )
    return await bot.send_message(
        chat_id,
        payload.html,
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard,
        reply_parameters=reply,
        link_preview_options=LinkPreviewOptions(is_disabled=not payload.link_preview),
        allow_paid_broadcast=allow_paid,
    )


async def pin(bot: ExtBot[Any], chat_id: str, message_id: int) -> None:
    """Pin where the bot may; the post is out either way, so a refusal is only logged."""
    try:
        await bot.pin_chat_message(chat_id, message_id, disable_notification=True)
    except TelegramError as exc:
        log.warning("telegram: could not pin a post: %s", type(exc).__name__)


async def edit_message(bot: ExtBot[Any], chat_id: str, call: EditCall) -> None:
    """Make one edit; an edit to the same content is a success."""
    keyboard = markup(call.payload.keyboard)
    message_id = int(call.message_id)
    if call.method == "editMessageText":
        preview = LinkPreviewOptions(is_disabled=not call.payload.link_preview)
        edit: Awaitable[object] = bot.edit_message_text(
            call.html, chat_id, message_id, parse_mode=ParseMode.HTML, reply_markup=keyboard,
            link_preview_options=preview,
        )  # fmt: skip
    elif call.method == "editMessageMedia":
        assert call.photo is not None
        media = InputMediaPhoto(call.photo, caption=call.html, parse_mode=ParseMode.HTML)
        edit = bot.edit_message_media(media, chat_id, message_id, reply_markup=keyboard)
    else:
        edit = bot.edit_message_caption(
            chat_id, message_id, caption=call.html, parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
        )  # fmt: skip
    await _unless_unchanged(edit)


async def _unless_unchanged(call: Awaitable[T]) -> None:
    """An edit to the same content is a success (Telegram answers 400 "not modified")."""
    try:
        await call
    except BadRequest as exc:
        if "message is not modified" not in str(exc).lower():
            raise
