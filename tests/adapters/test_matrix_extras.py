"""Matrix: generated pictures (the progress card) and pinned announcements, on a real Synapse."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from bot.chat import ChatKind, ChatRef, Post
from bot.storage import open_database
from tests.adapters.test_matrix_synapse import bot_config, make_adapter, notices, running_bot
from tests.synapse import Human, Synapse


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(out, "PNG")
    return out.getvalue()


async def test_a_picture_follows_the_text_and_a_pinned_post_is_pinned(
    synapse: Synapse, tmp_path: Path
) -> None:
    bot, person = synapse.new_user("bot"), synapse.new_user("ann")
    async with Human(synapse, person) as human:
        # The bot may change the room's pinned events (power level 50).
        power = {
            "type": "m.room.power_levels",
            "state_key": "",
            "content": {"users": {bot.user_id: 50}},
        }
        room_id = await human.create_room([bot.user_id], initial_state=[power])
        config = bot_config(tmp_path, synapse, bot, channel=room_id)
        async with open_database(tmp_path / "bot.sqlite3") as db:
            adapter = make_adapter(config, db, bot)
            await adapter.start(None)
            try:
                chat = ChatRef("matrix", room_id, ChatKind.GROUP)
                sent = await adapter.send(chat, Post.text("Progress"), key="k1", reply_to=None)
                card = Post.text("Card follows")
                await adapter.send(chat, Post(card.blocks, image_png=png()), key="k2")
                pinned = await adapter.send(
                    chat, Post(Post.text("Rally").blocks, pin=True), key="k3"
                )
            finally:
                await adapter.stop()
            await human.wait_until(lambda: len(human.messages(room_id, sender=bot.user_id)) == 4)
            state = await human.client.room_get_state_event(room_id, "m.room.pinned_events")
    kinds = [e["content"]["msgtype"] for e in human.messages(room_id, sender=bot.user_id)]
    assert kinds == ["m.notice", "m.notice", "m.image", "m.notice"]
    image = human.messages(room_id, sender=bot.user_id)[2]["content"]
    assert image["url"].startswith("mxc://")
    assert image["info"]["mimetype"] == "image/png"
    assert state.content["pinned"] == [pinned.message_id]
    assert sent.message_id not in state.content["pinned"]


async def test_an_admin_announces_from_a_matrix_room(synapse: Synapse, tmp_path: Path) -> None:
    bot, admin = synapse.new_user("bot"), synapse.new_user("boss")
    async with Human(synapse, admin) as boss:
        news = await boss.create_room([bot.user_id], name="News")
        desk = await boss.create_room([bot.user_id], name="Desk")
        config = bot_config(tmp_path, synapse, bot, channel=news, admins=(admin.user_id,))
        async with (
            open_database(tmp_path / "bot.sqlite3") as db,
            running_bot(config, db, make_adapter(config, db, bot)),
        ):
            await boss.client.join(desk)  # the bot joins its invites when an admin invites
            await boss.send_text(desk, "!announce --to news *Rally* on Sunday")
            await boss.wait_until(lambda: len(notices(boss, desk, bot)) == 2)
            await boss.send_text(desk, "!confirm 1")
            await boss.wait_until(lambda: len(notices(boss, news, bot)) == 1)
            # The progress message is edited into the final report.
            await boss.wait_until(
                lambda: any(
                    "finished" in e["content"].get("m.new_content", {}).get("body", "")
                    for e in boss.messages(desk, sender=bot.user_id)
                ),
                within=20,
            )
    preview, prompt = (e["content"] for e in notices(boss, desk, bot)[:2])
    assert preview["formatted_body"] == "<p><strong>Rally</strong> on Sunday</p>"
    assert prompt["body"].endswith("→ Confirm: reply !confirm 1\n→ Cancel: reply !cancel 1")
    (post,) = notices(boss, news, bot)
    assert post["content"]["body"] == "Rally on Sunday"
