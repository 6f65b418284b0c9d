"""One post to many Matrix rooms through the bot, against a bare matrix-nio send loop.

    python -m bench.matrix_fanout [--rooms 50] [--posts 10]

A real Synapse is started on 127.0.0.1; the bot user is exempted from rate
limits (as an operator would do for a busy bot), so the figure is the
bot's own overhead: outbox rows, the paced delivery worker, the adapter.
The baseline sends the same number of messages with the same account in a
plain `room_send` loop.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from nio import AsyncClient, RoomSendResponse

from bot.adapters.matrix import MatrixAdapter
from bot.app import pacer_for
from bot.chat import Post
from bot.outbox import Item, Outbox, WakeSignals
from bot.outbox.audience import Audience, ChannelSpec
from bot.outbox.delivery import DeliveryPolicy, DeliveryWorker
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
            audience = Audience(db, outbox, channels, ["matrix"], [])
            worker = DeliveryWorker(
                db, adapter, pacer_for(adapter), DeliveryPolicy(resend_uncertain=True),
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
    args = parser.parse_args()
    asyncio.run(main_async(args.rooms, args.posts))


if __name__ == "__main__":
    main()
