"""End-to-end encryption on a real Synapse: an encrypting matrix-nio client plays the person.

The person's client works like Element with default settings: its direct chat
with the bot is created encrypted (`is_direct` and `m.room.encryption` in the
initial state), it trusts devices on first use, and it reads what the bot
says only by decrypting it.
"""

from __future__ import annotations

import shutil
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_app
from bot.chat import ChatKind, ChatRef, Post, Rejected
from bot.feeds.render import render_article
from bot.i18n import Lang
from bot.outbox import Item
from bot.storage import Database, open_database
from bot.storage import outbox as q
from bot.storage.state import DatabaseStateStore
from tests.adapters.test_matrix_extras import png
from tests.adapters.test_matrix_synapse import (
    ARTICLE,
    bot_config,
    channel_target,
    eventually,
    make_adapter,
    notices,
    replies_to,
    running_bot,
)
from tests.synapse import Human, MatrixUser, Synapse

ENCRYPTION = {"type": "m.room.encryption", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


def person(synapse: Synapse, user: MatrixUser, tmp_path: Path) -> Human:
    """The person, with an encrypting client and its own store."""
    return Human(synapse, user, store=tmp_path / f"store-{user.user_id[1:].split(':')[0]}")


async def encrypted_dm(human: Human, bot: MatrixUser) -> str:
    """A direct chat with the bot, encrypted from the start, as Element creates it."""
    return await human.create_room(
        [bot.user_id], name=None, is_direct=True, initial_state=[ENCRYPTION]
    )


def raw_type(synapse: Synapse, human: Human, room_id: str, event_id: str) -> str:
    """The event's type as stored on the homeserver (what the server itself can read)."""
    path = (
        f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}"
        f"/event/{urllib.parse.quote(event_id)}"
    )
    return str(synapse.request("GET", path, token=human.user.access_token)["type"])


def bot_adapter(config: Any, db: Database, bot: MatrixUser, store: Path, **options: Any) -> Any:
    return make_adapter(config, db, bot, store_path=store, **options)


async def test_an_encrypted_direct_chat_gets_encrypted_answers_to_help_and_donate(
    synapse: Synapse, tmp_path: Path
) -> None:
    bot, ann = synapse.new_user("bot"), synapse.new_user("ann")
    async with person(synapse, ann, tmp_path) as human:
        config = bot_config(tmp_path, synapse, bot)
        async with (
            open_database(tmp_path / "bot.sqlite3") as db,
            running_bot(config, db, bot_adapter(config, db, bot, tmp_path / "crypto")),
        ):
            room_id = await encrypted_dm(human, bot)
            await human.wait_until(lambda: room_id in human.client.rooms)
            await human.wait_until(lambda: bot.user_id in human.client.rooms[room_id].users)
            helped = await human.send_text(room_id, "!help")
            await human.wait_until(lambda: bool(replies_to(human, room_id, bot, helped)))
            donated = await human.send_text(room_id, "!donate")
            await human.wait_until(lambda: bool(replies_to(human, room_id, bot, donated)))

    (help_reply,) = replies_to(human, room_id, bot, helped)
    (donate_reply,) = replies_to(human, room_id, bot, donated)
    assert "!help" in help_reply["content"]["body"]
    assert "<code>!help</code>" in help_reply["content"]["formatted_body"]
    assert donate_reply["content"]["body"]
    for event in (help_reply, donate_reply):
        assert raw_type(synapse, human, room_id, event["event_id"]) == "m.room.encrypted"
    assert raw_type(synapse, human, room_id, helped) == "m.room.encrypted"


async def test_a_feed_article_in_an_encrypted_room_is_decrypted_with_its_html(
    synapse: Synapse, tmp_path: Path
) -> None:
    bot, ann = synapse.new_user("bot"), synapse.new_user("ann")
    async with person(synapse, ann, tmp_path) as human:
        room_id = await human.create_room([bot.user_id], initial_state=[ENCRYPTION])
        config = bot_config(tmp_path, synapse, bot, channel=room_id)
        async with open_database(tmp_path / "bot.sqlite3") as db:
            adapter = bot_adapter(config, db, bot, tmp_path / "crypto")
            async with running_bot(config, db, adapter) as app:
                post = render_article(ARTICLE, Lang.of("en"), feed_title="News")
                await app.services.outbox.enqueue_alone(
                    Item("article", post), [channel_target(room_id)]
                )
                await human.wait_until(lambda: len(notices(human, room_id, bot)) == 1)

    (article,) = notices(human, room_id, bot)
    html = article["content"]["formatted_body"]
    assert '<a href="https://example.org/posts/1?a=1&amp;b=2"><strong>Protest' in html
    assert "<p>Read on &lt;b&gt;now&lt;/b&gt;.</p>" in html
    assert raw_type(synapse, human, room_id, article["event_id"]) == "m.room.encrypted"


async def test_after_a_restart_the_same_device_answers_once_what_came_while_it_was_down(
    synapse: Synapse, tmp_path: Path
) -> None:
    bot, ann = synapse.new_user("bot"), synapse.new_user("ann")
    store = tmp_path / "crypto"
    async with person(synapse, ann, tmp_path) as human:
        config = bot_config(tmp_path, synapse, bot)
        async with open_database(tmp_path / "bot.sqlite3") as db:
            async with running_bot(config, db, bot_adapter(config, db, bot, store)):
                room_id = await encrypted_dm(human, bot)
                await human.wait_until(lambda: bot.user_id in _joined(human, room_id))
                first = await human.send_text(room_id, "!help")
                await human.wait_until(lambda: bool(replies_to(human, room_id, bot, first)))
            devices = synapse.user_devices(bot)
            missed = await human.send_text(room_id, "!start")  # the bot is down
            async with running_bot(config, db, bot_adapter(config, db, bot, store)):
                await human.wait_until(lambda: bool(replies_to(human, room_id, bot, missed)))
                after = await human.send_text(room_id, "!help")
                await human.wait_until(lambda: bool(replies_to(human, room_id, bot, after)))

    assert synapse.user_devices(bot) == devices  # no new device
    assert len(replies_to(human, room_id, bot, first)) == 1
    assert len(replies_to(human, room_id, bot, missed)) == 1
    assert len(notices(human, room_id, bot)) == 3


async def test_a_lost_store_brings_a_new_device_that_admins_hear_of_and_that_still_answers(
    synapse: Synapse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bot, ann = synapse.new_user("bot"), synapse.new_user("ann")
    store = tmp_path / "crypto"
    login = {"access_token": None, "password": bot.password}
    async with person(synapse, ann, tmp_path) as human:
        config = bot_config(tmp_path, synapse, bot, admins=(ann.user_id,))
        async with open_database(tmp_path / "bot.sqlite3") as db:
            state = DatabaseStateStore(db, "matrix.")
            async with running_bot(config, db, bot_adapter(config, db, bot, store, **login)):
                room_id = await encrypted_dm(human, bot)
                await human.wait_until(lambda: bot.user_id in _joined(human, room_id))
                first = await human.send_text(room_id, "!help")
                await human.wait_until(lambda: bool(replies_to(human, room_id, bot, first)))
            old_device = await state.get("device_id")
            shutil.rmtree(store)
            async with running_bot(config, db, bot_adapter(config, db, bot, store, **login)):
                new_device = await state.get("device_id")
                await human.wait_until(lambda: bool(human.invites - {room_id}))
                later = await human.send_text(room_id, "!start")
                await human.wait_until(lambda: bool(replies_to(human, room_id, bot, later)))

    assert new_device not in (None, old_device)
    assert len(replies_to(human, room_id, bot, first)) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"matrix: new device {new_device} (was {old_device})" in warnings


async def test_run_once_posts_into_an_encrypted_room(synapse: Synapse, tmp_path: Path) -> None:
    bot, ann = synapse.new_user("bot"), synapse.new_user("ann")
    async with person(synapse, ann, tmp_path) as human:
        room_id = await human.create_room([bot.user_id], initial_state=[ENCRYPTION])
        config = bot_config(tmp_path, synapse, bot, channel=room_id)
        async with open_database(tmp_path / "bot.sqlite3") as db:
            adapter = bot_adapter(config, db, bot, tmp_path / "crypto")
            app = build_app(config, db, adapters={"matrix": adapter})
            await app.services.outbox.enqueue_alone(
                Item("article", Post.text("Posted by cron")), [channel_target(room_id)]
            )
            await app.run_once()
            await human.wait_until(lambda: len(notices(human, room_id, bot)) == 1)

    (post,) = notices(human, room_id, bot)
    assert post["content"]["body"] == "Posted by cron"


async def test_a_picture_in_an_encrypted_room_is_uploaded_encrypted(
    synapse: Synapse, tmp_path: Path
) -> None:
    from nio.crypto import decrypt_attachment

    bot, ann = synapse.new_user("bot"), synapse.new_user("ann")
    card = png()
    async with person(synapse, ann, tmp_path) as human:
        room_id = await human.create_room([bot.user_id], initial_state=[ENCRYPTION])
        config = bot_config(tmp_path, synapse, bot, channel=room_id)
        async with open_database(tmp_path / "bot.sqlite3") as db:
            adapter = bot_adapter(config, db, bot, tmp_path / "crypto")
            await adapter.start(None)
            try:
                chat = ChatRef("matrix", room_id, ChatKind.GROUP)
                await adapter.send(chat, Post(Post.text("Card").blocks, image_png=card), key="k1")
            finally:
                await adapter.stop()
        await human.wait_until(lambda: len(human.messages(room_id, sender=bot.user_id)) == 2)
        image = human.messages(room_id, sender=bot.user_id)[1]["content"]
        download = await human.client.download(image["file"]["url"])
    assert image["msgtype"] == "m.image"
    assert "url" not in image
    assert image["info"]["mimetype"] == "image/png"
    file = image["file"]
    body = getattr(download, "body", b"")
    assert body != card  # the homeserver holds only the ciphertext
    assert decrypt_attachment(body, file["key"]["k"], file["hashes"]["sha256"], file["iv"]) == card


async def test_an_encrypted_post_resent_after_a_crash_appears_once(
    synapse: Synapse, tmp_path: Path
) -> None:
    bot, ann = synapse.new_user("bot"), synapse.new_user("ann")
    store = tmp_path / "crypto"
    async with person(synapse, ann, tmp_path) as human:
        room_id = await human.create_room([bot.user_id], initial_state=[ENCRYPTION])
        config = bot_config(tmp_path, synapse, bot, channel=room_id)
        async with open_database(tmp_path / "bot.sqlite3") as db:
            async with running_bot(config, db, bot_adapter(config, db, bot, store)) as app:
                item = await app.services.outbox.enqueue_alone(
                    Item("article", Post.text("Only once")), [channel_target(room_id)]
                )
                await human.wait_until(lambda: len(notices(human, room_id, bot)) == 1)
            row = await db.fetch_one(
                "SELECT id, message_id, attempts FROM deliveries WHERE item_id = ?", (item,)
            )
            assert row is not None
            # A crash between the send and recording it leaves the row in `sending`.
            await db.execute("UPDATE deliveries SET state = 'sending' WHERE id = ?", (row["id"],))
            async with running_bot(config, db, bot_adapter(config, db, bot, store)):
                await eventually(lambda: q.item_counts(db, item), {"sent": 1})
                again = await db.fetch_one(
                    "SELECT message_id, attempts FROM deliveries WHERE id = ?", (row["id"],)
                )
                marker = await human.send_text(room_id, "!help")
                await human.wait_until(lambda: bool(replies_to(human, room_id, bot, marker)))

    assert again is not None
    assert again["attempts"] == row["attempts"] + 1  # sent a second time...
    # ...and the server recognised the transaction id
    assert again["message_id"] == row["message_id"]
    assert [e["content"]["body"] for e in notices(human, room_id, bot)].count("Only once") == 1


async def test_an_undecryptable_event_is_logged_once_and_the_bot_keeps_answering(
    synapse: Synapse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bot, ann, eve = (synapse.new_user(n) for n in ("bot", "ann", "eve"))
    async with person(synapse, ann, tmp_path) as human, Human(synapse, eve) as forger:
        room_id = await human.create_room([bot.user_id, eve.user_id], initial_state=[ENCRYPTION])
        config = bot_config(tmp_path, synapse, bot, channel=room_id)
        async with open_database(tmp_path / "bot.sqlite3") as db:
            adapter = bot_adapter(config, db, bot, tmp_path / "crypto")
            async with running_bot(config, db, adapter):
                await forger.client.join(room_id)
                garbage = {
                    "algorithm": "m.megolm.v1.aes-sha2",
                    "ciphertext": "AwgAEnB0aGlzIGlzIG5vdCBhIG1lc3NhZ2U",
                    "sender_key": "nosuchkey",
                    "session_id": "nosuchsession",
                    "device_id": "NOSUCHDEVICE",
                }
                sent = await forger.client.room_send(room_id, "m.room.encrypted", garbage)
                forged = str(getattr(sent, "event_id", ""))
                assert forged, sent
                await human.wait_until(lambda: bot.user_id in _joined(human, room_id))
                for text in ("!help", "!start"):
                    asked = await human.send_text(room_id, text)
                    await human.wait_until(
                        lambda asked=asked: bool(replies_to(human, room_id, bot, asked))  # type: ignore[misc]
                    )

    logged = [r.getMessage() for r in caplog.records if forged in r.getMessage()]
    assert logged == [f"matrix: cannot decrypt event {forged} yet; asked for its key"]


def _joined(human: Human, room_id: str) -> set[str]:
    room = human.client.rooms.get(room_id)
    return set(room.users) if room is not None else set()


def test_the_store_defaults_to_beside_the_database_and_follows_the_config(tmp_path: Path) -> None:
    from bot.config import parse_config
    from bot.platforms import matrix_store_path

    def config(matrix: dict[str, Any]) -> Any:
        data = {"matrix": {"user_id": "@bot:example.org", **matrix}, "storage": {"path": "d/b.db"}}
        return parse_config(data, base_dir=tmp_path, environ={})

    assert matrix_store_path(config({})) == tmp_path / "d" / "matrix-store"
    assert matrix_store_path(config({"store_path": "keys"})) == tmp_path / "keys"
    assert matrix_store_path(config({"store_path": "/srv/keys"})) == Path("/srv/keys")


async def test_a_lost_store_without_a_password_turns_encryption_off_and_tells_the_admins(
    synapse: Synapse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bot, admin = synapse.new_user("bot"), synapse.new_user("admin")
    store = tmp_path / "crypto"
    async with Human(synapse, admin) as boss:
        room_id = await boss.create_room([bot.user_id], initial_state=[ENCRYPTION])
        config = bot_config(tmp_path, synapse, bot, channel=room_id, admins=(admin.user_id,))
        async with open_database(tmp_path / "bot.sqlite3") as db:
            first = bot_adapter(config, db, bot, store)
            await first.start(None)
            await first.stop()
            shutil.rmtree(store)
            again = bot_adapter(config, db, bot, store)
            await again.start(None)
            try:
                with pytest.raises(Rejected, match="encryption is off"):
                    await again.send(ChatRef("matrix", room_id), Post.text("hi"), key="k1")
            finally:
                await again.stop()
        await boss.wait_until(lambda: bool(boss.invites))
        (direct,) = boss.invites
        await boss.client.join(direct)
        await boss.wait_until(lambda: bool(boss.messages(direct, sender=bot.user_id)))

    (notice,) = boss.messages(direct, sender=bot.user_id)
    assert "encryption store is lost" in notice["content"]["body"]
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("encryption store for device" in e for e in errors)
