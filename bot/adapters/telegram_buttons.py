"""Presses of buttons under channel posts, whose answer waits for the private reply.

A press under a channel post is answered in the presser's private chat. Someone who
never started the bot cannot be written to first (403 "bot can't initiate
conversation with a user"): instead of a logged 403, the press is answered with a
short alert that opens the bot (`t.me/<bot>?start=…`), so one tap on Start fixes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram import CallbackQuery
from telegram.error import TelegramError

from bot.adapters.telegram_links import deep_link_url
from bot.i18n import DEFAULT_LANGUAGE, N_, lang_for

log = logging.getLogger(__name__)

# t.me/<bot>?start=…: a payload /start does not act on, so the presser gets the welcome.
START_PARAMETER = "from_channel"
# The alert's text in the presser's language (Telegram's language_code, or None).
AlertText = Callable[[str | None], str]


OPEN_THE_BOT = N_("Open a chat with the bot and press Start, then press the button again.")


def open_bot_alert(language_code: str | None, default_language: str = DEFAULT_LANGUAGE) -> str:
    """The alert in the presser's language (else `default_language`)."""
    return lang_for(language_code, default_language).gettext(OPEN_THE_BOT)


class ChannelPresses:
    """Unanswered presses under channel posts, by the presser's user id."""

    def __init__(self, alert: AlertText | None = None) -> None:
        self._alert = alert or open_bot_alert
        self._waiting: dict[str, CallbackQuery] = {}

    def hold(self, query: CallbackQuery) -> None:
        """Answer this press only once its reply was tried."""
        self._waiting[str(query.from_user.id)] = query

    async def answer(self, user_id: str, text: str | None = None) -> None:
        """Answer the held press of `user_id`, if any (the reply went out, or failed)."""
        query = self._waiting.pop(user_id, None)
        if query is None:
            return
        try:
            await query.answer(text=text)
        except TelegramError as exc:
            log.info("telegram: could not answer a button press: %s", type(exc).__name__)

    async def refused(self, user_id: str, bot_username: str) -> bool:
        """The reply to `user_id` was refused (never started, or blocked): answer the held
        press with an alert that opens the bot. False if no press was waiting."""
        query = self._waiting.pop(user_id, None)
        if query is None:
            return False
        text = self._alert(query.from_user.language_code)
        url = deep_link_url(bot_username, START_PARAMETER) if bot_username else None
        try:
            await query.answer(text=text, show_alert=True, url=url)
        except TelegramError as exc:
            log.info("telegram: could not answer a button press: %s", type(exc).__name__)
        return True
