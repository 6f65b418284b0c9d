"""A Telegram Bot API stand-in: an aiohttp server the real python-telegram-bot talks to.

Point PTB at it with `base_url=f"{api.url}/bot"` (the adapter's `api_base`).
It keeps what a user would see: the chats and the bot's membership in each,
each chat's messages (visible text and the HTML it came from, photo, keyboard),
the update queue, answered callback queries and published command menus.

It refuses what Telegram refuses, with Telegram's wording (`rules`): HTML
outside Telegram's allowlist or unbalanced (400 "can't parse entities"), text
over 4096 UTF-16 units, captions over 1024, `callback_data` over 64 bytes
(BUTTON_DATA_INVALID), an edit of the wrong kind (editMessageCaption on a text
message, editMessageText on a photo, editMessageMedia on a text), an edit that
changes nothing, keyboard included ("message is not modified"), command menus
outside 1-32 `a-z0-9_` / 1-256 characters of description, webhook secrets
outside 1-256 `A-Za-z0-9_-`; chats the bot may not write to (403 blocked,
kicked, not a member, can't initiate conversation; 400 chat not found, not
enough rights) and calls to a group that became a supergroup (400 with
`migrate_to_chat_id`, sends and edits alike). With `strict()` every call that
acts in a chat (sends, edits, pins; not answerCallbackQuery) counts against
rolling flood windows answered with 429 + retry_after.

Tests play the users with `inject_text`, `press_button`, `block_bot`,
`add_user`, `kick_bot`, `remove_bot`, `restrict_bot`, `add_bot` (each of those
pushes the `my_chat_member` update Telegram sends), `delete_chat`,
`migrate_group`, `fail_next` (429/403/400/500/hang) and `strict`.

    async with telegram_api() as api:
        api.add_chat(-1001, "channel", title="News")
        ...
"""

from tests.fakes.telegram.entities import ALLOWED_TAGS, EntityError, parse_html, utf16_len
from tests.fakes.telegram.rules import ApiError, StrictLimits
from tests.fakes.telegram.server import CAPTION_MAX, TEXT_MAX, TelegramApi, telegram_api
from tests.fakes.telegram.state import ShownMessage, Stats

__all__ = [
    "ALLOWED_TAGS",
    "CAPTION_MAX",
    "TEXT_MAX",
    "ApiError",
    "EntityError",
    "ShownMessage",
    "Stats",
    "StrictLimits",
    "TelegramApi",
    "parse_html",
    "telegram_api",
    "utf16_len",
]
