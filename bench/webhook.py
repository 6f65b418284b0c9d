"""Signed Stripe events POSTed by N clients to the bot's webhook server, against a bare handler.

    python -m bench.webhook [--seconds 10] [--clients 8] [--slices 4]

Each request is a distinct, paid `checkout.session.completed` event, signed as
Stripe signs webhooks. The bot side is the real `[web]` server with the
webhook route, wired by `build_app` (signature check, event parsing, the ledger's transaction with
its milestones and outbox, INFO logging to a file as `outreach-bot run` logs),
on a SQLite file with the bot's settings (WAL, synchronous=FULL). The baseline
is a bare aiohttp handler that checks the signature with
`stripe.WebhookSignature.verify_header` and INSERTs the payment into SQLite
(aiosqlite, WAL, synchronous=FULL, one autocommitted INSERT per event).

Each server runs in its own process; this process is the load generator. The
two are loaded in turn, in alternating slices of the run (`--slices`), so that
a change in whatever else the machine is doing falls on both alike. At the end
each server reports how many payments it stored, which must equal the number
of 200 answers it gave. Latency is measured by the clients, request to answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import queue
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import aiohttp
import aiosqlite
import stripe
from aiohttp import web

SECRET = "whsec_bench_secret_for_the_webhook_benchmark"
STRIPE_KEY = "sk_test_bench_key_never_used_for_a_request"
TOLERANCE = 300
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
Result = tuple[str, int]  # (what, value) messages from a server process


# --- the bot's server -------------------------------------------------------------------


def bot_config(folder: Path) -> Any:
    from bot.config import parse_config

    environ = {"STRIPE_SECRET_KEY": STRIPE_KEY, "STRIPE_WEBHOOK_SECRET": SECRET}
    data: dict[str, Any] = {
        "console": {"enabled": True, "user": "bench"},
        "admins": {"console": ["admin"]},
        "storage": {"path": str(folder / "bot.sqlite3")},
        "channels": [{"name": "news", "platform": "console", "chat": "news"}],
        "campaigns": [
            {
                "id": "russia",
                "title": "Russian anti-war protesters",
                "earmark": "for Russian anti-war protesters",
                "goal": 200000,
                "currency": "USD",
                "channels": ["news"],
                "provider": "stripe",
            }
        ],
        "stripe": {"api_base": "http://127.0.0.1:9"},  # never called: no links, no reconciler
        "web": {"listen": "127.0.0.1:0"},
    }
    return parse_config(data, base_dir=folder, environ=environ)


async def run_bot_server(folder: Path, results: Any, stop: EventType) -> None:
    from bot.app import build_app
    from bot.storage import open_database

    config = bot_config(folder)
    environ = {"STRIPE_SECRET_KEY": STRIPE_KEY, "STRIPE_WEBHOOK_SECRET": SECRET}
    async with open_database(config.database_path()) as db:
        app = build_app(config, db, environ=environ)
        donations = app.services.donations
        assert donations is not None
        assert donations.webhook is not None
        assert app.web is not None
        web = app.web
        port = await web.start()
        try:
            results.put(("port", port))
            await wait_for_event(stop)
        finally:
            await web.stop()
            await donations.aclose()
        row = await db.fetch_one("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'payment'")
        results.put(("stored", int(row[0]) if row else -1))


# --- the baseline server ----------------------------------------------------------------


async def run_bare_server(folder: Path, results: Any, stop: EventType) -> None:
    conn = await aiosqlite.connect(folder / "bare.sqlite3", isolation_level=None)
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=FULL")
    await conn.execute(
        "CREATE TABLE payments (object_id TEXT PRIMARY KEY, campaign TEXT, amount INTEGER, "
        "currency TEXT, event_id TEXT, recorded_at REAL)"
    )

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            stripe.WebhookSignature.verify_header(
                body.decode(), request.headers.get("Stripe-Signature"), SECRET, TOLERANCE
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError):
            return web.Response(status=400)
        event = json.loads(body)
        obj = event["data"]["object"]
        await conn.execute(
            "INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                obj["id"],
                obj["metadata"].get("campaign"),
                obj["amount_total"],
                obj["currency"].upper(),
                event["id"],
                time.time(),
            ),
        )
        return web.json_response({"received": True})

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/stripe/webhook", receive)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        results.put(("port", int(runner.addresses[0][1])))
        await wait_for_event(stop)
    finally:
        await runner.cleanup()
        async with conn.execute("SELECT COUNT(*) FROM payments") as cur:
            row = await cur.fetchone()
        await conn.close()
    results.put(("stored", int(row[0]) if row else -1))


async def wait_for_event(stop: EventType, limit: float = 3600.0) -> None:
    """Wait (bounded) for the orchestrator's stop event without blocking the loop."""
    await asyncio.to_thread(stop.wait, limit)


def serve(kind: str, folder: str, results: Any, stop: EventType) -> None:
    """A server process: the bot's webhook server or the bare baseline."""
    path = Path(folder)
    if kind == "bot":
        from bot.logs import setup_logging

        # As `outreach-bot run` does (INFO on stderr); the lines go to a file here.
        sys.stderr = (path / "bot.log").open("w", encoding="utf-8")
        setup_logging("INFO", [SECRET, STRIPE_KEY])
        asyncio.run(run_bot_server(path, results, stop))
    else:
        asyncio.run(run_bare_server(path, results, stop))


# --- the load generator -----------------------------------------------------------------


def event_body(phase: str, client: int, n: int) -> str:
    """A paid checkout.session.completed event for a new session, as Stripe sends it
    (the shape of tests/fakes/stripe_api.py's `checkout_completed`)."""
    session = f"cs_{phase}_{client}_{n:07d}"
    event = {
        "id": f"evt_{phase}_{client}_{n:07d}",
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": int(time.time()),
        "type": "checkout.session.completed",
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {
            "object": {
                "id": session,
                "object": "checkout.session",
                "mode": "payment",
                "submit_type": "donate",
                "amount_total": 5000,
                "currency": "usd",
                "payment_status": "paid",
                "status": "complete",
                "payment_intent": "pi_" + session.removeprefix("cs_"),
                "metadata": {
                    "campaign": "russia",
                    "earmark": "for russia",
                    "source": "outreach-bot",  # only payments the bot made count
                },
                "customer_details": None,
            }
        },
    }
    return json.dumps(event)


def sign(payload: str) -> str:
    """The `Stripe-Signature` header Stripe would send."""
    header: str = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
    return header


async def load(url: str, phase: str, clients: int, seconds: float) -> tuple[int, list[float]]:
    """POST signed events from `clients` connections until `seconds` pass; (ok, latencies)."""
    latencies: list[float] = []
    errors: list[int] = []
    deadline = time.perf_counter() + seconds
    timeout = aiohttp.ClientTimeout(total=30)

    async def client(c: int) -> None:
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            n = 0
            while time.perf_counter() < deadline:
                payload = event_body(phase, c, n)
                headers = {
                    "Content-Type": "application/json",
                    "Stripe-Signature": sign(payload),
                }
                n += 1
                start = time.perf_counter()
                async with http.post(url, data=payload.encode(), headers=headers) as response:
                    await response.read()
                    status = response.status
                if status == 200:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors.append(status)

    await asyncio.gather(*(client(c) for c in range(clients)))
    if errors:
        raise RuntimeError(f"{phase}: {len(errors)} requests failed, e.g. HTTP {errors[0]}")
    return len(latencies), latencies


def p99_ms(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def next_result(results: Any, what: str, process: SpawnProcess, limit: float) -> int:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            got: Result = results.get(timeout=0.2)
            if got[0] == what:
                return got[1]
        if not process.is_alive() and results.empty():
            raise RuntimeError(f"the server process exited with {process.exitcode}")
    raise RuntimeError(f"the server process sent no {what} within {limit:.0f}s")


@dataclass
class Server:
    """One server process and what the load generator measured against it."""

    kind: str
    process: SpawnProcess
    results: Any
    stop: EventType
    url: str = ""
    ok: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0  # seconds of CPU the server process used while loaded
    latencies: list[float] = field(default_factory=list)

    def rate(self) -> float:
        return self.ok / self.elapsed

    def cpu_ms(self) -> float:
        return 1000 * self.cpu / self.ok

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server process (all its threads)."""
        assert self.process.pid is not None
        with Path(f"/proc/{self.process.pid}/stat").open(encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(kind: str, folder: Path) -> Server:
    ctx = multiprocessing.get_context("spawn")
    results, stop = ctx.Queue(), ctx.Event()
    process = ctx.Process(target=serve, args=(kind, str(folder), results, stop), daemon=True)
    process.start()
    return Server(kind, process, results, stop)


def stop_server(server: Server) -> None:
    server.stop.set()
    server.process.join(STOP_TIMEOUT)
    if server.process.is_alive():
        server.process.kill()
        server.process.join(STOP_TIMEOUT)


def measure(folder: Path, clients: int, seconds: float, slices: int) -> dict[str, Server]:
    """Load each server for `seconds` in all, in alternating slices (so that a change in
    the machine's other load falls on both alike); check what each stored."""
    servers: dict[str, Server] = {}
    try:
        for kind in ("bare", "bot"):
            (folder / kind).mkdir()
            servers[kind] = start_server(kind, folder / kind)
        for server in servers.values():
            port = next_result(server.results, "port", server.process, START_TIMEOUT)
            server.url = f"http://127.0.0.1:{port}/stripe/webhook"
        for n in range(slices):
            order = list(servers.values())
            for server in order if n % 2 == 0 else reversed(order):
                start, cpu = time.perf_counter(), server.cpu_seconds()
                ok, latencies = asyncio.run(
                    load(server.url, f"{server.kind}{n}", clients, seconds / slices)
                )
                server.elapsed += time.perf_counter() - start
                server.cpu += server.cpu_seconds() - cpu
                server.ok += ok
                server.latencies += latencies
        for server in servers.values():
            server.stop.set()
            stored = next_result(server.results, "stored", server.process, STOP_TIMEOUT)
            if stored != server.ok:
                raise RuntimeError(
                    f"{server.kind}: {server.ok} events acknowledged, {stored} stored"
                )
        return servers
    finally:
        for server in servers.values():
            stop_server(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="load time per server")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--slices", type=int, default=4, help="alternations between servers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-webhook-") as tmp:
        servers = measure(Path(tmp), args.clients, args.seconds, max(1, args.slices))
    bot, bare = servers["bot"], servers["bare"]
    print(
        f"events_per_s={bot.rate():.0f} p99_ms={p99_ms(bot.latencies):.1f} "
        f"baseline_events_per_s={bare.rate():.0f} baseline_p99_ms={p99_ms(bare.latencies):.1f} "
        f"ratio={bot.rate() / bare.rate():.2f} target=0.8 p99_target_ms=50 "
        f"clients={args.clients} seconds={args.seconds:g} "
        f"cpu_ms_per_event={bot.cpu_ms():.3f} baseline_cpu_ms_per_event={bare.cpu_ms():.3f}"
    )


if __name__ == "__main__":
    main()
