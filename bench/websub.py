"""Publish → first channel post, with WebSub push against polling at the default interval.

    python -m bench.websub [--posts 50]

The bot runs as `build_app` makes it (web server on 127.0.0.1, a console channel
recorded in memory) with a feed served locally that names the local hub stand-in
(tests/fakes/websub_hub.py). For each publication a new entry is added to the feed:

- push: the hub POSTs the new feed, signed, to the bot's callback; the latency is
  from the publication until the post reaches the channel adapter.
- polling: the bot is not subscribed; the latency is the wait for the next poll
  (the poller's own schedule: `interval` × U(0.9, 1.1) after the last poll, the
  publication at a uniformly random moment in between; the default interval is
  600 s, so this part is computed, not waited for) plus the poll's own measured
  processing (fetch, parse, dedup, outbox, delivery to the channel).

Goal: p95 under 2 s with push. The ratio printed is polling p95 / push p95.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.app import App, build_app
from bot.cli import free_port
from bot.storage import open_database
from bot.storage import websub as ws
from tests.fakes.feed_server import FeedServer, feed_server
from tests.fakes.recording import RecordingAdapter
from tests.fakes.websub_hub import Hub, websub_hub
from tests.feeds.websub_rig import hub_rss
from tests.helpers import make_config

DEFAULT_INTERVAL = 600.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def wait_for(condition: Callable[[], bool], limit: float = 30.0) -> None:
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110 - the adapter has no event to wait on
            await asyncio.sleep(0.002)


async def measure(posts: int, *, push: bool) -> list[float]:
    """Seconds from publication to the post reaching the channel, one per publication."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        async with feed_server() as feeds, websub_hub() as hub:
            hub.down = not push  # polling alone: the hub never takes the subscription
            topic = feeds.url("/feed.xml")
            config = make_config(
                Path(tmp),
                channels=[{"name": "news", "platform": "console", "chat": "news"}],
                feeds=[{"name": "org", "url": topic, "channels": ["news"], "allow_private": True}],
                web={"enabled": True, "listen": f"127.0.0.1:{port}", "public_url": public},
            )
            chat = RecordingAdapter()
            titles = ["Article 0"]
            feeds.bodies["/feed.xml"] = hub_rss(hub.url, topic, *titles)
            async with open_database(config.database_path()) as db:
                app = build_app(config, db, adapters={"console": chat})
                task = asyncio.create_task(app.run())
                try:
                    await wait_for(lambda: len(chat.sent) == 1)
                    if push:
                        await hub.wait_until(lambda: bool(hub.live(topic)), 10)
                    return await _publications(
                        app, hub, feeds, chat, titles, posts=posts, push=push
                    )
                finally:
                    app.request_stop()
                    async with asyncio.timeout(15):
                        await task


async def _publications(
    app: App,
    hub: Hub,
    feeds: FeedServer,
    chat: RecordingAdapter,
    titles: list[str],
    *,
    posts: int,
    push: bool,
) -> list[float]:
    latencies = []
    rng = random.Random(17)
    for n in range(1, posts + 1):
        titles.insert(0, f"Article {n}")
        body = hub_rss(hub.url, feeds.url("/feed.xml"), *titles[:20])
        feeds.bodies["/feed.xml"] = body
        sent = len(chat.sent)
        started = time.perf_counter()
        if push:
            statuses = await hub.publish(feeds.url("/feed.xml"), body)
            assert statuses == [204], statuses
        else:
            await app.services.poller.poll_all()
        await wait_for(lambda sent=sent: len(chat.sent) > sent)
        processing = time.perf_counter() - started
        # Polling: the publication waited for the next poll of the poller's own schedule.
        gap = DEFAULT_INTERVAL * rng.uniform(0.9, 1.1)
        latencies.append(processing if push else processing + rng.uniform(0, gap))
    sub = await ws.get(app.db, "org")
    assert (sub is not None and sub.state == ws.SUBSCRIBED) == push
    return latencies


def report(name: str, values: list[float]) -> float:
    p50, p95 = statistics.median(values), percentile(values, 95)
    print(f"{name:8} n={len(values)}  p50 {p50 * 1000:9.1f} ms  p95 {p95 * 1000:9.1f} ms")
    return p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=50)
    args = parser.parse_args()
    push = asyncio.run(measure(args.posts, push=True))
    polled = asyncio.run(measure(args.posts, push=False))
    push_p95 = report("push", push)
    poll_p95 = report("polling", polled)
    print(f"goal p95 < 2 s with push: {'met' if push_p95 < 2 else 'MISSED'}")
    print(f"ratio polling p95 / push p95: {poll_p95 / push_p95:,.0f}")


if __name__ == "__main__":
    main()
