"""A poll cycle over N locally served feeds, against bare feedparser on the same bodies.

    python -m bench.feeds [--feeds 200] [--items 20]

Cycle 1 (first poll): every feed and entry is new.
Cycle 2 (changed, the steady state): every feed has one new entry; the whole
body is fetched and parsed, the new entry normalised, deduplicated, stored
and put in the outbox. The main ratio is this cycle's CPU against bare
feedparser parsing the same bodies.
Cycle 3: every feed answers 304.
The feed server runs in another process, so the CPU figures are the bot's
alone (all threads of this process).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
from collections.abc import Awaitable, Callable
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import feedparser
from aiohttp import web

from bot.feeds.poller import FeedPoller, FeedSettings, PollResult
from bot.outbox import Outbox, WakeSignals
from bot.outbox.audience import Audience, ChannelSpec
from bot.people import People
from bot.storage import open_database


def make_feed(n: int, items: int, first: int = 0) -> bytes:
    entries = "".join(
        f"<item><guid isPermaLink='false'>feed{n}-item{i}</guid>"
        f"<title>Feed {n}: article {i} about protests &amp; legal aid</title>"
        f"<link>https://example.org/{n}/{i}?utm_source=rss</link>"
        f"<category>Russia</category><pubDate>Tue, 03 Nov 2026 08:{i % 60:02d}:00 GMT</pubDate>"
        f"<description><![CDATA[<p>Paragraph <b>one</b> of article {i}. "
        + "More words about the campaign and the people it helps. " * 8
        + "</p><p><img src='https://example.org/i.jpg'/> Second paragraph.</p>]]>"
        + "</description></item>"
        for i in reversed(range(first, first + items))
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel>"
        f"<title>Feed {n}</title><link>https://example.org/{n}/</link>{entries}</channel></rss>"
    ).encode()


def serve(
    generations: list[list[bytes]],
    generation: Synchronized[int],
    port_queue: multiprocessing.Queue[int],
) -> None:
    async def main() -> None:
        async def handle(request: web.Request) -> web.Response:
            n = int(request.match_info["n"])
            body = generations[generation.value][n]
            etag = f'"{generation.value}-{n}"'
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            return web.Response(
                body=body, headers={"ETag": etag}, content_type="application/rss+xml"
            )

        app = web.Application()
        app.router.add_get("/{n}.xml", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_queue.put(runner.addresses[0][1])
        await asyncio.sleep(3600)

    asyncio.run(main())


def baseline_cpu(bodies: list[bytes]) -> float:
    start = time.process_time()
    for body in bodies:
        feedparser.parse(body)
    return time.process_time() - start


def cpu_of_poll(poller: FeedPoller) -> Callable[[], Awaitable[tuple[float, list[PollResult]]]]:
    async def cycle() -> tuple[float, list[PollResult]]:
        start = time.process_time()
        results = await poller.poll_all()
        return time.process_time() - start, results

    return cycle


async def bot_cycles(port: int, count: int, generation: Synchronized[int]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        async with open_database(Path(tmp) / "bench.sqlite3") as db:
            channels = {"news": ChannelSpec("news", "console", "news")}
            outbox = Outbox(db, WakeSignals())
            audience = Audience(db, outbox, channels, ["console"], [], People(db))
            feeds = [
                FeedSettings(
                    name=f"f{n}",
                    url=f"http://127.0.0.1:{port}/{n}.xml",
                    channels=("news",),
                    allow_private=True,
                )
                for n in range(count)
            ]
            async with FeedPoller(db, audience, outbox, feeds, user_agent="bench") as poller:
                cycle = cpu_of_poll(poller)
                first_cpu, results = await cycle()
                assert all(r.error is None and r.posted == 1 for r in results), results[:3]
                generation.value = 1
                changed_cpu, results = await cycle()
                assert all(r.posted == 1 for r in results), results[:3]
                wall = time.perf_counter()
                _, results = await cycle()
                not_modified_wall = time.perf_counter() - wall
                assert all(r.not_modified for r in results)
                return {"first": first_cpu, "changed": changed_cpu, "304": not_modified_wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=20)
    args = parser.parse_args()
    generations = [
        [make_feed(n, args.items) for n in range(args.feeds)],
        [make_feed(n, args.items, first=1) for n in range(args.feeds)],  # one new entry each
    ]
    generation: Synchronized[int] = multiprocessing.Value("i", 0)
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(
        target=serve, args=(generations, generation, ports), daemon=True
    )
    server.start()
    try:
        port = ports.get(timeout=30)
        first_base = baseline_cpu(generations[0])
        base = baseline_cpu(generations[1])
        cpu = asyncio.run(bot_cycles(port, args.feeds, generation))
    finally:
        server.terminate()
        server.join(10)
    print(
        f"feeds={args.feeds} items={args.items} baseline_cpu_s={base:.2f} "
        f"changed_cpu_s={cpu['changed']:.2f} ratio={cpu['changed'] / base:.2f} target=1.2 "
        f"first_poll_cpu_s={cpu['first']:.2f} first_poll_ratio={cpu['first'] / first_base:.2f} "
        f"not_modified_wall_s={cpu['304']:.2f} not_modified_target_s=1.0"
    )


if __name__ == "__main__":
    main()
