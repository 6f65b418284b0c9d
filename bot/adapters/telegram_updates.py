"""Telegram updates handed on as `Incoming`, and button presses answered.

Every press is answered (the client shows a spinner until it is); a press
under a channel post is held until its private reply was tried, so that a
presser who never started the bot gets an alert that opens it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from telegram import CallbackQuery, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.adapters.telegram_buttons import ChannelPresses
from bot.adapters.telegram_map import to_incoming
from bot.adapters.telegram_render import ButtonTokens
from bot.chat import Incoming, OnIncoming
from bot.i18n import N_, lang_for
from bot.logs import redact

log = logging.getLogger(__name__)

EXPIRED_BUTTON = N_("This button has expired; please send the command again.")


class UpdateHandler:
    """PTB's handler for every update: maps it, answers presses, calls `on_incoming`."""

    def __init__(
        self,
        buttons: ButtonTokens,
        presses: ChannelPresses,
        secrets: Callable[[], tuple[str, ...]],
    ) -> None:
        self._buttons = buttons
        self._presses = presses
        self._secrets = secrets
        self.on_incoming: OnIncoming | None = None  # set when the adapter starts receiving

    def polling_failed(self, exc: TelegramError) -> None:
        log.warning("telegram: polling failed: %s", self.redact(exc))

    async def on_update(self, update: Update, context: object) -> None:
        incoming = to_incoming(update)
        if update.callback_query is not None:
            incoming = await self._button(update.callback_query, incoming)
        if incoming is None or self.on_incoming is None:
            return
        try:
            await self.on_incoming(incoming)
        except Exception:
            log.exception("telegram: handling an update failed")
        finally:
            await self._presses.answer(incoming.sender.id)  # a press still held: answered now

    def redact(self, exc: TelegramError) -> str:
        return redact(str(exc), self._secrets())

    async def _button(self, query: CallbackQuery, incoming: Incoming | None) -> Incoming | None:
        """Answer every press (the client shows a spinner until we do), then hand it on.

        A press under a channel post is answered after its private reply was tried: if
        the presser never started the bot, the answer is an alert that opens it.
        """
        command = self._buttons.command_for(query.data or "")
        message = query.message
        if command and incoming and message and message.chat.type == ChatType.CHANNEL:
            self._presses.hold(query)
            return dataclasses.replace(incoming, text=command)
        try:
            expired = lang_for(query.from_user.language_code).gettext(EXPIRED_BUTTON)
            await query.answer(text=None if command else expired)
        except TelegramError as exc:
            log.info("telegram: could not answer a button press: %s", self.redact(exc))
        if command is None or incoming is None:
            return None
        return dataclasses.replace(incoming, text=command)
