"""One post to many Matrix rooms through the bot, against a bare matrix-nio send loop.

    python -m bench.matrix_fanout [--rooms 50] [--posts 10]
    python -m bench.matrix_fanout --encrypted [--rooms 50] [--posts 10]

A real Synapse is started on 127.0.0.1; the bot user is exempted from rate
limits (as an operator would do for a busy bot), so the figure is the
bot's own overhead: outbox rows, the paced delivery worker, the adapter.
The baseline sends the same number of messages with the same account in a
plain `room_send` loop.

With `--encrypted` the bot (with its crypto store, as in production) posts the
same posts to encrypted rooms and, as the baseline, to unencrypted rooms; each
room has two members, the bot and a person whose encrypting client published
its device keys. Each post is delivered before the next is enqueued, so the
first post's cost (an Olm session with the person's device, the room key sent
to it in each room) shows apart from the steady state.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from nio import AsyncClient, RoomSendResponse

from bot.adapters.matrix import MatrixAdapter
from bot.chat import Post
from bot.outbox import Item, Outbox, WakeSignals
from bot.outbox.audience import Audience, ChannelSpec
from bot.outbox.delivery import DeliveryPolicy, DeliveryWorker
from bot.people import People
from bot.storage import open_database
from bot.storage import outbox as q
from bot.storage.state import DatabaseStateStore
from tests.synapse import Human, MatrixUser, Synapse, running_synapse


async def make_rooms(synapse: Synapse, bot: MatrixUser, count: int) -> list[str]:
    person = synapse.new_user("owner")
    async with Human(synapse, person) as human:
        return [await human.create_room([bot.user_id], name=f"Room {n}") for n in range(count)]


async def bare_loop(synapse: Synapse, bot: MatrixUser, rooms: list[str], posts: int) -> float:
    client = AsyncClient(synapse.url, bot.user_id, bot.device_id)
    client.user_id, client.access_token = bot.user_id, bot.access_token
    try:
        for room in rooms:  # join once, outside the timing
            await client.join(room)
        start = time.perf_counter()
        for n in range(posts):
            for room in rooms:
                content = {"msgtype": "m.notice", "body": f"bare post {n}"}
                resp = await client.room_send(room, "m.room.message", content)
                assert isinstance(resp, RoomSendResponse), resp
        return time.perf_counter() - start
    finally:
        await client.close()


async def bot_fanout(
    synapse: Synapse, bot: MatrixUser, rooms: list[str], posts: int, folder: Path
) -> float:
    async with open_database(folder / "bench.sqlite3") as db:
        adapter = MatrixAdapter(
            homeserver=synapse.url, user_id=bot.user_id, state=DatabaseStateStore(db, "matrix."),
            access_token=bot.access_token, device_id=bot.device_id, rooms=rooms, exempt=True,
        )  # fmt: skip
        await adapter.start(None)  # joins the rooms
        try:
            channels = {
                f"r{n}": ChannelSpec(f"r{n}", "matrix", room) for n, room in enumerate(rooms)
            }
            wake = WakeSignals()
            outbox = Outbox(db, wake)
            audience = Audience(db, outbox, channels, ["matrix"], [], People(db))
            worker = DeliveryWorker(
                db, adapter, DeliveryPolicy(resend_uncertain=True),
                wake=wake.signal("matrix"),
            )  # fmt: skip
            start = time.perf_counter()
            for n in range(posts):
                targets = await audience.channel_targets(channels)
                await outbox.enqueue_alone(Item("article", Post.text(f"bot post {n}")), targets)
            await worker.drain(horizon=0.0, limit=600.0)
            elapsed = time.perf_counter() - start
            rows = await db.fetch_all("SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state")
            assert {r["state"]: r["n"] for r in rows} == {q.SENT: posts * len(rooms)}, rows
            return elapsed
        finally:
            await adapter.stop()


async def per_post(
    synapse: Synapse, bot: MatrixUser, rooms: list[str], posts: int, folder: Path
) -> list[float]:
    """Seconds to deliver each post to every room, by the bot with a crypto store."""
    async with open_database(folder / "bench.sqlite3") as db:
        adapter = MatrixAdapter(
            homeserver=synapse.url, user_id=bot.user_id, state=DatabaseStateStore(db, "matrix."),
            access_token=bot.access_token, rooms=rooms, exempt=True, store_path=folder / "store",
        )  # fmt: skip
        await adapter.start(None)
        try:
            channels = {f"r{n}": ChannelSpec(f"r{n}", "matrix", r) for n, r in enumerate(rooms)}
            wake = WakeSignals()
            outbox = Outbox(db, wake)
            audience = Audience(db, outbox, channels, ["matrix"], [])
            worker = DeliveryWorker(
                db, adapter, DeliveryPolicy(resend_uncertain=True),
                wake=wake.signal("matrix"),
            )  # fmt: skip
            times = []
            for n in range(posts):
                start = time.perf_counter()
                targets = await audience.channel_targets(channels)
                await outbox.enqueue_alone(Item("article", Post.text(f"bot post {n}")), targets)
                await worker.drain(horizon=0.0, limit=600.0)
                times.append(time.perf_counter() - start)
            rows = await db.fetch_all("SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state")
            assert {r["state"]: r["n"] for r in rows} == {q.SENT: posts * len(rooms)}, rows
            return times
        finally:
            await adapter.stop()


async def encrypted_vs_plain(rooms_count: int, posts: int) -> None:
    encryption = {"type": "m.room.encryption", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
    with tempfile.TemporaryDirectory() as tmp, running_synapse(Path(tmp)) as synapse:
        folder = Path(tmp)
        times: dict[str, list[float]] = {}
        for kind, state in (("plain", []), ("encrypted", [encryption])):
            bot = synapse.new_user("bot", exempt=True)
            person = synapse.new_user("person")
            async with Human(synapse, person, store=folder / f"person-{kind}") as human:
                rooms = [
                    await human.create_room([bot.user_id], name=f"Room {n}", initial_state=state)
                    for n in range(rooms_count)
                ]
                (folder / kind).mkdir()
                times[kind] = await per_post(synapse, bot, rooms, posts, folder / kind)
                if kind == "encrypted":  # the person can read them: the keys were shared
                    await human.wait_until(
                        lambda r=rooms, b=bot: _decrypted(human, r, b) == rooms_count  # type: ignore[misc]
                    )
    sends = rooms_count * posts
    plain_rate, enc_rate = sends / sum(times["plain"]), sends / sum(times["encrypted"])
    first_cost = times["encrypted"][0] - times["plain"][0]
    later = times["encrypted"][1:] or times["encrypted"]
    print(
        f"rooms={rooms_count} posts={posts} sends={sends} encrypted_msgs_per_s={enc_rate:.1f} "
        f"plain_msgs_per_s={plain_rate:.1f} first_post_encrypted_s={times['encrypted'][0]:.2f} "
        f"first_post_plain_s={times['plain'][0]:.2f} key_sharing_s={first_cost:.2f} "
        f"later_post_encrypted_s={sum(later) / len(later):.2f} "
        f"ratio={enc_rate / plain_rate:.2f} target=0.5"
    )


def _decrypted(human: Human, rooms: list[str], bot: MatrixUser) -> int:
    """Rooms where the person has decrypted the bot's first post."""
    return sum(
        any(e["content"].get("body") == "bot post 0" for e in human.messages(r, sender=bot.user_id))
        for r in rooms
    )


async def main_async(rooms_count: int, posts: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, running_synapse(Path(tmp)) as synapse:
        bot = synapse.new_user("bot", exempt=True)
        rooms = await make_rooms(synapse, bot, rooms_count)
        bare = bare_loop(synapse, bot, rooms, posts)
        bare_s = await bare
        bot_s = await bot_fanout(synapse, bot, rooms, posts, Path(tmp))
    sends = rooms_count * posts
    bare_rate, bot_rate = sends / bare_s, sends / bot_s
    print(
        f"rooms={rooms_count} posts={posts} sends={sends} bot_msgs_per_s={bot_rate:.1f} "
        f"bare_msgs_per_s={bare_rate:.1f} ratio={bot_rate / bare_rate:.2f} target=0.9"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--posts", type=int, default=10)
    parser.add_argument(
        "--encrypted", action="store_true", help="encrypted rooms against unencrypted ones"
    )
    args = parser.parse_args()
    if args.encrypted:
        asyncio.run(encrypted_vs_plain(args.rooms, args.posts))
    else:
        asyncio.run(main_async(args.rooms, args.posts))


if __name__ == "__main__":
    main()
