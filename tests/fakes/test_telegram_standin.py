"""The Bot API stand-in refuses what Telegram refuses, as the real python-telegram-bot sees it.

Each rule is driven through PTB's own `Bot` (its default HTTP backend, not the
bot's adapter), so the errors asserted here are the ones any PTB code meets.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeDefault,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberRestricted,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
)
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, RetryAfter

from tests.fakes.telegram import TelegramApi, telegram_api

USER, STRANGER = 1001, 1002
CHANNEL, GROUP, SUPERGROUP = -1001, -5, -1005
PHOTO = "https://example.org/i.jpg"


@pytest.fixture
async def api() -> AsyncIterator[TelegramApi]:
    async with telegram_api() as server:
        server.add_chat(USER)
        server.add_chat(CHANNEL, "channel", title="News")
        server.add_chat(GROUP, "group")
        server.add_chat(SUPERGROUP, "supergroup")
        yield server


@pytest.fixture
async def bot(api: TelegramApi, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bot]:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22's opt-in; the adapter sets it too
    async with Bot(api.token, base_url=f"{api.url}/bot") as client:
        yield client


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(d[:10] or "b", callback_data=d)] for d in data]
    )


async def test_edits_and_pins_count_against_the_flood_windows(api: TelegramApi, bot: Bot) -> None:
    api.strict(overall_per_second=30, per_chat_per_second=1, per_group_per_minute=20)
    sent = await bot.send_message(CHANNEL, "one")
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("two", CHANNEL, sent.message_id)
    with pytest.raises(RetryAfter):
        await bot.pin_chat_message(CHANNEL, sent.message_id)
    assert [m.text for m in api.bot_messages(CHANNEL)] == ["one"]
    assert api.stats.rejected_429 == 2
    assert not api.pinned


async def test_paid_broadcasts_go_past_the_free_window_but_not_the_chat_limit(
    api: TelegramApi, bot: Bot
) -> None:
    api.strict(overall_per_second=2, per_chat_per_second=1, paid_per_second=4)
    for n in range(4):
        api.add_chat(USER + 10 + n)
    await bot.send_message(USER + 10, "free")
    await bot.send_message(USER + 11, "free")
    with pytest.raises(RetryAfter):
        await bot.send_message(USER + 12, "free, over the window")
    await bot.send_message(USER + 12, "paid", allow_paid_broadcast=True)
    with pytest.raises(RetryAfter):  # a chat's own limit holds for paid sends
        await bot.send_message(USER + 12, "paid again", allow_paid_broadcast=True)
    await bot.send_message(USER + 13, "paid", allow_paid_broadcast=True)
    with pytest.raises(RetryAfter):  # the paid window is full too
        await bot.send_message(USER, "paid, over the window", allow_paid_broadcast=True)
    assert (api.stats.sent, api.stats.paid, api.stats.rejected_429) == (4, 2, 3)


async def test_answering_a_button_press_is_not_counted(api: TelegramApi, bot: Bot) -> None:
    api.strict(overall_per_second=1, per_chat_per_second=1, per_group_per_minute=20)
    sent = await bot.send_message(USER, "pick", reply_markup=keyboard("a"))
    query = api.press_button(USER, sent.message_id, "a")
    assert await bot.answer_callback_query(query)
    assert api.stats.rejected_429 == 0


async def test_a_caption_edit_on_a_text_message_is_refused(api: TelegramApi, bot: Bot) -> None:
    text = await bot.send_message(CHANNEL, "text")
    photo = await bot.send_photo(CHANNEL, PHOTO, caption="caption")
    with pytest.raises(BadRequest, match=r"^There is no caption in the message to edit$"):
        await bot.edit_message_caption(CHANNEL, text.message_id, caption="new")
    with pytest.raises(BadRequest, match=r"^There is no text in the message to edit$"):
        await bot.edit_message_text("new", CHANNEL, photo.message_id)
    with pytest.raises(BadRequest, match=r"^There is no media in the message to edit$"):
        await bot.edit_message_media(InputMediaPhoto(PHOTO), CHANNEL, text.message_id)
    assert [m.text for m in api.bot_messages(CHANNEL)] == ["text", "caption"]


async def test_a_photo_can_be_replaced_with_its_caption(api: TelegramApi, bot: Bot) -> None:
    photo = await bot.send_photo(CHANNEL, PHOTO, caption="old")
    media = InputMediaPhoto("https://example.org/new.jpg", caption="<b>new</b>", parse_mode="HTML")
    await bot.edit_message_media(media, CHANNEL, photo.message_id)
    [shown] = api.bot_messages(CHANNEL)
    assert (shown.photo, shown.text) == ("https://example.org/new.jpg", "new")


async def test_not_modified_takes_the_keyboard_into_account(api: TelegramApi, bot: Bot) -> None:
    sent = await bot.send_message(USER, "40% raised", reply_markup=keyboard("a"))
    await bot.edit_message_text("40% raised", USER, sent.message_id, reply_markup=keyboard("b"))
    assert api.bot_messages(USER)[0].keyboard == [[{"text": "b", "callback_data": "b"}]]
    with pytest.raises(BadRequest, match=r"^Message is not modified: specified new message"):
        await bot.edit_message_text("40% raised", USER, sent.message_id, reply_markup=keyboard("b"))
    await bot.edit_message_text("40% raised", USER, sent.message_id)  # no markup: removed
    assert api.bot_messages(USER)[0].keyboard == []


async def test_callback_data_over_64_bytes_is_refused(api: TelegramApi, bot: Bot) -> None:
    fits, too_long = "й" * 32, "й" * 32 + "x"  # 64 and 65 bytes of UTF-8
    sent = await bot.send_message(USER, "pick", reply_markup=keyboard(fits))
    with pytest.raises(BadRequest, match=r"^Button_data_invalid$"):
        await bot.send_message(USER, "pick", reply_markup=keyboard(too_long))
    with pytest.raises(BadRequest, match=r"^Button_data_invalid$"):
        await bot.edit_message_text("again", USER, sent.message_id, reply_markup=keyboard(too_long))
    assert [m.text for m in api.bot_messages(USER)] == ["pick"]


async def test_refusals_use_telegrams_wording(api: TelegramApi, bot: Bot) -> None:
    api.block_bot(USER)
    api.kick_bot(CHANNEL)
    api.kick_bot(SUPERGROUP)
    api.remove_bot(GROUP)
    api.add_user(STRANGER)
    expected = {
        USER: "Forbidden: bot was blocked by the user",
        CHANNEL: "Forbidden: bot was kicked from the channel chat",
        SUPERGROUP: "Forbidden: bot was kicked from the supergroup chat",
        GROUP: "Forbidden: bot is not a member of the group chat",
        STRANGER: "Forbidden: bot can't initiate conversation with a user",
    }
    for chat_id, wording in expected.items():
        with pytest.raises(Forbidden) as refused:
            await bot.send_message(chat_id, "hello")
        assert refused.value.message == wording


async def test_a_channel_the_bot_left_and_a_deleted_chat(api: TelegramApi, bot: Bot) -> None:
    api.remove_bot(CHANNEL)
    with pytest.raises(Forbidden, match=r"^Forbidden: bot is not a member of the channel chat$"):
        await bot.send_photo(CHANNEL, PHOTO)
    api.delete_chat(GROUP)
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(GROUP, "hello")


async def test_a_restricted_bot_may_not_send(api: TelegramApi, bot: Bot) -> None:
    api.restrict_bot(CHANNEL)
    with pytest.raises(BadRequest, match=r"^Need administrator rights in the channel chat$"):
        await bot.send_message(CHANNEL, "hello")
    api.restrict_bot(SUPERGROUP)
    with pytest.raises(BadRequest, match=r"^Not enough rights to send text messages to the chat$"):
        await bot.send_message(SUPERGROUP, "hello")
    with pytest.raises(BadRequest, match=r"^Not enough rights to send photos to the chat$"):
        await bot.send_photo(SUPERGROUP, PHOTO)


async def test_membership_changes_arrive_as_my_chat_member_updates(
    api: TelegramApi, bot: Bot
) -> None:
    api.kick_bot(CHANNEL, by=USER)
    api.add_bot(CHANNEL, by=USER)
    api.restrict_bot(SUPERGROUP)
    api.add_bot(SUPERGROUP, "member")
    api.block_bot(USER)
    api.add_bot(USER)
    updates = await bot.get_updates(timeout=0)
    changes = [u.my_chat_member for u in updates]
    assert [
        (c.chat.id, type(c.old_chat_member), type(c.new_chat_member)) for c in changes if c
    ] == [
        (CHANNEL, ChatMemberAdministrator, ChatMemberBanned),
        (CHANNEL, ChatMemberBanned, ChatMemberAdministrator),
        (SUPERGROUP, ChatMemberMember, ChatMemberRestricted),
        (SUPERGROUP, ChatMemberRestricted, ChatMemberMember),
        (USER, ChatMemberMember, ChatMemberBanned),
        (USER, ChatMemberBanned, ChatMemberMember),
    ]
    assert changes[0] is not None
    assert changes[0].from_user.id == USER
    await bot.send_message(CHANNEL, "back")  # added back: posting works again
    await bot.send_message(USER, "back")
    assert [m.text for m in api.bot_messages(CHANNEL)] == ["back"]


async def test_a_removed_bot_shows_as_left(api: TelegramApi, bot: Bot) -> None:
    api.remove_bot(CHANNEL)
    [update] = await bot.get_updates(timeout=0)
    assert update.my_chat_member is not None
    assert isinstance(update.my_chat_member.new_chat_member, ChatMemberLeft)


async def test_a_migrated_group_refuses_sends_edits_and_pins(api: TelegramApi, bot: Bot) -> None:
    sent = await bot.send_message(GROUP, "before")
    api.migrate_group(GROUP, SUPERGROUP)
    calls = [
        bot.send_message(GROUP, "after"),
        bot.edit_message_text("edited", GROUP, sent.message_id),
        bot.pin_chat_message(GROUP, sent.message_id),
    ]
    for call in calls:
        with pytest.raises(ChatMigrated) as moved:
            await call
        assert moved.value.new_chat_id == SUPERGROUP
    assert [m.text for m in api.bot_messages(GROUP)] == ["before"]


@pytest.mark.parametrize(
    ("command", "description", "refusal"),
    [
        ("Start", "begin", "Bot_command_invalid"),
        ("more-like-this", "related", "Bot_command_invalid"),
        ("x" * 33, "long", "Command length must not exceed 32"),
        ("", "empty", "Command must be non-empty"),
        ("help", "", "Command description must be non-empty"),
        ("help", "x" * 257, "Command description length must not exceed 256"),
    ],
)
async def test_command_menus_are_checked(
    api: TelegramApi, bot: Bot, command: str, description: str, refusal: str
) -> None:
    commands = [BotCommand("start", "begin"), BotCommand(command, description)]
    with pytest.raises(BadRequest) as refused:
        await bot.set_my_commands(commands, scope=BotCommandScopeDefault())
    assert refused.value.message == refusal
    assert api.menu() == []


async def test_command_menus_per_language(api: TelegramApi, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "what this bot does")])
    await bot.set_my_commands([BotCommand("start", "что делает бот")], language_code="ru")
    with pytest.raises(BadRequest, match=r"^Invalid language code specified$"):
        await bot.set_my_commands([BotCommand("start", "x")], language_code="russian")
    assert api.menu() == ["start"]
    assert api.menu(language_code="ru") == ["start"]
    default = json.dumps({"type": "default"}, sort_keys=True)
    assert api.commands[default, "ru"] == [{"command": "start", "description": "что делает бот"}]


@pytest.mark.parametrize(
    ("secret", "refusal"),
    [
        ("has space", "Secret token contains unallowed characters"),
        ("base64+/=", "Secret token contains unallowed characters"),
        ("секрет", "Secret token contains unallowed characters"),
        ("x" * 257, "Secret token is too long"),
    ],
)
async def test_a_webhook_secret_outside_telegrams_alphabet_is_refused(
    api: TelegramApi, bot: Bot, secret: str, refusal: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        await bot.set_webhook("https://bot.example.org/telegram", secret_token=secret)
    assert refused.value.message == refusal
    assert api.webhook is None


async def test_a_webhook_secret_of_the_allowed_characters_is_kept(
    api: TelegramApi, bot: Bot
) -> None:
    secret = "Az09_-" + "x" * 250
    await bot.set_webhook("https://bot.example.org/telegram", secret_token=secret)
    assert api.webhook == {"url": "https://bot.example.org/telegram", "secret_token": secret}


async def test_a_second_get_updates_ends_the_pending_one_with_409(
    api: TelegramApi, bot: Bot
) -> None:
    first = asyncio.ensure_future(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)  # the first long poll is waiting at the server
    async with Bot(api.token, base_url=f"{api.url}/bot") as other:
        second = asyncio.ensure_future(other.get_updates(timeout=1))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await asyncio.wait_for(first, 5)
        assert await asyncio.wait_for(second, 5) == ()
    assert api.stats.conflicts_409 == 1


async def test_get_updates_while_a_webhook_is_set_is_409(api: TelegramApi, bot: Bot) -> None:
    await bot.set_webhook("http://127.0.0.1:9/hook")
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates(timeout=0)
    await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == ()
    assert api.stats.conflicts_409 == 1
