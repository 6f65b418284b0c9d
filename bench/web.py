"""Campaign figures and image under load, against a bare aiohttp handler; live updates at scale.

    python -m bench.web [--seconds 5] [--clients 32] [--sse 1000] [--slices 2]

Part 1: `GET /campaigns/{id}.json` and `GET /campaigns/{id}.svg` from the bot's
real `[web]` server (built by `build_app`: ledger totals read from SQLite, the
figures or the SVG rendered, security headers added) against a bare aiohttp
handler returning the same bytes, each server in its own process, loaded in
alternating slices by `--clients` concurrent keep-alive clients in this process.
Figures: requests/s, p99 latency, ratio bot / bare (goal >= 0.8, p99 <= 20 ms).

Part 2: `--sse` clients open `/campaigns/{id}/events` on the bot; once all hold
their stream, one signed Stripe webhook is POSTed; the figure is the time from
the POST to the last client receiving the new total (goal <= 1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import queue
import tempfile
import time
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

SECRET = "whsec_bench_secret_for_the_web_benchmark"
STRIPE_KEY = "sk_test_bench_key_never_used_for_a_request"
ENV = {"STRIPE_SECRET_KEY": STRIPE_KEY, "STRIPE_WEBHOOK_SECRET": SECRET}
TIMEOUT = 60.0


def bot_config(folder: Path) -> Any:
    from bot.config import parse_config

    data: dict[str, Any] = {
        "console": {"enabled": True, "user": "bench"},
        "storage": {"path": str(folder / "bot.sqlite3")},
        "campaigns": [
            {
                "id": "russia",
                "title": "Russian anti-war protesters",
                "earmark": "for Russian anti-war protesters",
                "goal": 200000,
                "currency": "USD",
                "provider": "stripe",
            }
        ],
        "stripe": {"api_base": "http://127.0.0.1:9"},  # never called
        "web": {"listen": "127.0.0.1:0", "enabled": True},
    }
    return parse_config(data, base_dir=folder, environ=ENV)


async def run_bot(folder: Path, results: Any, stop: EventType) -> None:
    from bot.app import build_app
    from bot.storage import open_database

    async with open_database(folder / "bot.sqlite3") as db:
        app = build_app(bot_config(folder), db, environ=ENV)
        assert app.web is not None
        assert app.services.donations is not None
        for n in range(200):  # a ledger with some history
            await app.services.donations.ledger.record_gift("russia", 1000 + n, "USD", "")
        done = asyncio.Event()
        task = asyncio.create_task(app.web.run(done))
        await asyncio.wait_for(app.web.listening.wait(), TIMEOUT)
        results.put(("port", app.web.port))
        await asyncio.to_thread(stop.wait, 3600)
        done.set()
        await task
        await app.close()


async def run_bare(json_body: bytes, svg_body: bytes, results: Any, stop: EventType) -> None:
    async def figures(request: web.Request) -> web.Response:
        return web.Response(body=json_body, content_type="application/json")

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=svg_body, content_type="image/svg+xml")

    app = web.Application()
    app.router.add_get("/campaigns/russia.json", figures)
    app.router.add_get("/campaigns/russia.svg", image)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    results.put(("port", runner.addresses[0][1]))
    await asyncio.to_thread(stop.wait, 3600)
    await runner.cleanup()


def serve(kind: str, arg: Any, results: Any, stop: EventType) -> None:
    if kind == "bot":
        asyncio.run(run_bot(Path(arg), results, stop))
    else:
        asyncio.run(run_bare(arg[0], arg[1], results, stop))


async def load(url: str, clients: int, seconds: float) -> list[float]:
    """Latencies (s) of every request `clients` keep-alive clients made in `seconds`."""
    latencies: list[float] = []
    end = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def client() -> None:
            while time.perf_counter() < end:
                started = time.perf_counter()
                async with http.get(url) as response:
                    await response.read()
                    assert response.status == 200
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


async def sse_time(base: str, clients: int) -> float:
    """Seconds from one webhook POST to the last of `clients` streams showing the change."""
    from tests.fakes.stripe_api import body, checkout_completed, sign

    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        ready, got = asyncio.Semaphore(0), [0.0] * clients

        async def listen(n: int) -> None:
            async with http.get(f"{base}/campaigns/russia/events") as response:
                await response.content.readuntil(b"\n\n")  # retry
                await response.content.readuntil(b"\n\n")  # the figures now
                ready.release()
                while True:
                    frame = await response.content.readuntil(b"\n\n")
                    if frame.startswith(b"event: progress") and b'"donations": 201' in frame:
                        got[n] = time.perf_counter()
                        return

        tasks = [asyncio.create_task(listen(n)) for n in range(clients)]
        for _ in range(clients):
            await asyncio.wait_for(ready.acquire(), TIMEOUT)
        payload = body(checkout_completed("cs_bench", 5000))
        started = time.perf_counter()
        headers = {"Stripe-Signature": sign(payload, SECRET)}
        async with http.post(f"{base}/stripe/webhook", data=payload, headers=headers) as r:
            assert r.status == 200
        await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
        return max(got) - started


def start(kind: str, arg: Any) -> tuple[Any, EventType, int]:
    ctx = multiprocessing.get_context("spawn")
    results, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=serve, args=(kind, arg, results, stop))
    proc.start()
    try:
        _, port = results.get(timeout=TIMEOUT)
    except queue.Empty:
        proc.kill()
        raise
    return proc, stop, port


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        bot, bot_stop, bot_port = start("bot", tmp)
        try:
            base = f"http://127.0.0.1:{bot_port}"
            async with aiohttp.ClientSession() as http:
                bodies = []
                for ext in ("json", "svg"):
                    async with http.get(f"{base}/campaigns/russia.{ext}") as response:
                        bodies.append(await response.read())
            bare, bare_stop, bare_port = start("bare", tuple(bodies))
            try:
                await compare(args, base, f"http://127.0.0.1:{bare_port}")
            finally:
                bare_stop.set()
                bare.join(TIMEOUT)
            took = await sse_time(base, args.sse)
            print(f"sse clients={args.sse} time_to_last_update_ms={took * 1000:.0f} target=1000")
        finally:
            bot_stop.set()
            bot.join(TIMEOUT)


async def compare(args: argparse.Namespace, bot: str, bare: str) -> None:
    slice_seconds = args.seconds / args.slices
    for ext in ("json", "svg"):
        lat: dict[str, list[float]] = {"bot": [], "bare": []}
        await load(f"{bot}/campaigns/russia.{ext}", args.clients, 0.5)  # warm up
        for _ in range(args.slices):
            for name, base in (("bot", bot), ("bare", bare)):
                lat[name] += await load(
                    f"{base}/campaigns/russia.{ext}", args.clients, slice_seconds
                )
        rate = {k: len(v) / args.seconds for k, v in lat.items()}
        print(
            f"{ext} clients={args.clients} bot_rps={rate['bot']:.0f} bare_rps={rate['bare']:.0f} "
            f"bot_p99_ms={p99(lat['bot']):.1f} bare_p99_ms={p99(lat['bare']):.1f} "
            f"ratio={rate['bot'] / rate['bare']:.2f} target=0.8",
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--sse", type=int, default=1000)
    parser.add_argument("--slices", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
