"""Hostile input: feeds, Stripe webhooks and commands that must be refused, never crash.

    python -m bench.badinput

Feeds: every real-world feed in ../shared/testdata/feeds (they must be taken)
and generated hostile ones (huge, deeply nested, wrongly encoded, HTML pages,
truncated XML, entity bombs, binary junk), served over HTTP on 127.0.0.1 and
polled by the real poller. Stripe: malformed payloads and signatures POSTed to
the real webhook server; none may change the ledger. Commands: malformed
input to every command through the real router. Every refusal must be logged
with its reason. Prints the counts; the target is zero crashes, zero ledger
changes from rejected events and zero unlogged refusals.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path

import aiohttp

from bot.app import build_app
from bot.chat import ChatKind, ChatRef, Incoming, Sender
from bot.chat.plain import render_plain
from bot.config import parse_config
from bot.donations.webhook import PATH
from bot.storage import Database, open_database
from tests.fakes.feed_server import FeedServer, feed_server
from tests.fakes.stripe_api import body, checkout_completed, event, sign
from tests.helpers import SHARED_FEEDS, rss

WEBHOOK_SECRET = "whsec_bench_secret"
ENV = {"STRIPE_SECRET_KEY": "sk_test_bench", "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


class Recorder(logging.Handler):
    """Every WARNING and above, to check that each refusal was logged."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def since(self, mark: int) -> list[str]:
        return self.lines[mark:]


def hostile_feeds() -> dict[str, bytes]:
    good = rss(("a", "Fine", "https://e.org/a"))
    return {
        "huge": b"<rss version='2.0'><channel>" + b"<item><title>x</title></item>" * 250_000,
        "deep": b"<rss version='2.0'><channel>" + b"<x>" * 100_000 + b"</x>" * 100_000,
        "html": b"<!doctype html><html><body><h1>Not a feed</h1></body></html>",
        "truncated": good[: len(good) // 2],
        "binary": bytes(range(256)) * 64,
        "empty": b"",
        "json": b'{"version": "https://jsonfeed.org/version/1", "items": []}',
        "entity_bomb": (
            b'<?xml version="1.0"?><!DOCTYPE r ['
            + b'<!ENTITY a "aaaaaaaaaa">'
            + b"".join(
                f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode()
                for i in range(8)
            )
            + b"]><rss version='2.0'><channel><item><title>&i;</title></item></channel></rss>"
        ),
    }


def accepted_wrong_encoding() -> bytes:
    """Declared UTF-8, written in Latin-1: a malformed feed that still yields its entry."""
    return (
        "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel><title>T</title>"
        "<item><guid>w</guid><title>Caf\u00e9 cr\u00e8me</title><link>https://e.org/w</link>"
        "</item></channel></rss>"
    ).encode("latin-1")


async def run_feeds(server: FeedServer, db: Database, tmp: Path, log: Recorder) -> dict[str, int]:
    bad = hostile_feeds()
    good = {p.name: p.read_bytes() for p in sorted(SHARED_FEEDS.glob("*/*.xml"))}
    good["wrong_encoding"] = accepted_wrong_encoding()
    for name, data in {**bad, **good}.items():
        server.bodies[f"/{name}"] = data
    feeds = [
        {"name": f"f{i}", "url": server.url(f"/{name}"), "allow_private": True}
        for i, name in enumerate([*bad, *good])
    ]
    config = parse_config(
        {"console": {"enabled": True}, "feeds": feeds, "storage": {"path": str(tmp / "f.db")}},
        environ={},
    )
    services = build_app(config, db).services
    names = {f"f{i}": name for i, name in enumerate([*bad, *good])}
    counts = {"feeds": len(names), "crashes": 0, "unlogged": 0, "wrongly_taken": 0}
    async with services.poller as poller:
        for feed in poller.feeds.values():
            mark = len(log.lines)
            try:
                result = await poller.poll(feed)
            except Exception:
                logging.getLogger(__name__).exception("poll crashed on %s", names[feed.name])
                counts["crashes"] += 1
                continue
            if names[feed.name] == "entity_bomb":
                # Taken is fine (a malformed feed that yields an entry is used), expanded is not.
                row = await db.fetch_one("SELECT MAX(LENGTH(title)) AS longest FROM articles")
                if result.error is None and row is not None and (row["longest"] or 0) > 1000:
                    counts["wrongly_taken"] += 1
            elif names[feed.name] in bad:
                if result.error is None:
                    print(f"  a hostile feed was taken: {names[feed.name]}: {result}")
                    counts["wrongly_taken"] += 1
                elif not any(result.error in line for line in log.since(mark)):
                    counts["unlogged"] += 1
            elif result.error is not None:
                print(f"  a good feed was refused: {names[feed.name]}: {result.error}")
                counts["wrongly_taken"] += 1
    return counts


def stripe_cases() -> list[tuple[str, bytes, str | None]]:
    """(name, body, Stripe-Signature header) for requests that must all be refused."""
    now = int(time.time())
    paid = body(checkout_completed("cs_bench_1", 5000))
    not_json = "this is not json"
    return [
        ("no signature", paid.encode(), None),
        ("garbage header", paid.encode(), "t=abc,v1=zzz"),
        ("wrong secret", paid.encode(), sign(paid, "whsec_wrong")),
        ("tampered", paid.replace("5000", "500000").encode(), sign(paid, WEBHOOK_SECRET)),
        ("stale", paid.encode(), sign(paid, WEBHOOK_SECRET, timestamp=now - 3600)),
        ("future", paid.encode(), sign(paid, WEBHOOK_SECRET, timestamp=now + 3600)),
        ("signed junk", not_json.encode(), sign(not_json, WEBHOOK_SECRET)),
        ("signed array", b"[1, 2]", sign("[1, 2]", WEBHOOK_SECRET)),
        ("oversized", b"x" * (2 * 1024 * 1024), sign("x", WEBHOOK_SECRET)),
        ("not utf-8", b"\xff\xfe\xfa", "t=1,v1=00"),
    ]


def accepted_but_ignored() -> list[tuple[str, bytes, str]]:
    """Signed events with nothing to book: answered 2xx, the ledger unchanged."""
    odd = [
        event("customer.created", {"id": "cus_1", "object": "customer"}),
        event("checkout.session.completed", {"id": "cs_bad", "object": "checkout.session"}),
        checkout_completed("cs_unpaid", 5000, paid=False),
    ]
    return [(e["type"], body(e).encode(), sign(body(e), WEBHOOK_SECRET)) for e in odd]


async def ledger_rows(db: Database) -> int:
    row = await db.fetch_one("SELECT COUNT(*) AS n FROM ledger_entries")
    return int(row["n"]) if row else 0


async def run_stripe(db: Database, tmp: Path, log: Recorder) -> dict[str, int]:
    data = {
        "console": {"enabled": True},
        "storage": {"path": str(tmp / "s.db")},
        "campaigns": [
            {"id": "russia", "title": "R", "earmark": "for R", "goal": 100, "provider": "stripe"}
        ],
        "web": {"listen": "127.0.0.1:0"},
    }
    app = build_app(parse_config(data, environ=ENV), db, environ=ENV)
    services = app.services
    assert services.donations is not None
    assert services.donations.webhook is not None
    server = app.web
    assert server is not None
    counts = {"stripe": 0, "crashes": 0, "unlogged": 0, "ledger_changes": 0}
    await server.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            cases = [(n, b, s, True) for n, b, s in stripe_cases()]
            cases += [(n, b, s, False) for n, b, s in accepted_but_ignored()]
            for name, payload, signature, refused in cases:
                counts["stripe"] += 1
                before, mark = await ledger_rows(db), len(log.lines)
                headers = {"Content-Type": "application/json"}
                if signature is not None:
                    headers["Stripe-Signature"] = signature
                async with http.post(server.url + PATH, data=payload, headers=headers) as resp:
                    status = resp.status
                counts["ledger_changes"] += await ledger_rows(db) != before
                counts["crashes"] += status >= 500
                if refused and (status < 400 or not log.since(mark)):
                    print(f"  {name}: status {status}, logged: {log.since(mark)}")
                    counts["unlogged"] += 1
    finally:
        await server.stop()
        await services.donations.aclose()
    return counts


COMMANDS = [
    "/", "!", "/donate ../../etc/passwd", "/donate russia -5", "/donate russia 1e9999",
    "/donate russia 0", "/donate nowhere 50", "/donate russia 50 notify extra words",
    "/progress \x00\x01", "/announce --to", "/announce --at", "/announce --at 2026-13-45 hi",
    "/announce --to topic: hi", "/confirm x", "/confirm 99999999999999999999", "/cancel -1",
    "/record", "/record russia abc USD", "/record russia 10 XXX", "/record russia 1e30 USD",
    "/unrecord abc", "/unrecord 99999999999999999999", "/search \"", "/search NOT AND OR",
    "/search *", "/latest 999999999999999999999", "/latest -3", "/related 1e5",
    "/subscribe " + "x" * 10_000, "/unsubscribe \u202e", "/feed_check javascript:alert(1)",
    "/feed_check http://[::1", "/audit 99999999999999999999", "/" + "a" * 40,
    "/help@", "/start@@bot", "x" * 100_000, "\u0000", "/mydata extra",
]  # fmt: skip


async def run_commands(db: Database, tmp: Path) -> dict[str, int]:
    data = {
        "console": {"enabled": True},
        "storage": {"path": str(tmp / "c.db")},
        "admins": {"console": ["admin"]},
        "bot": {"commands_per_minute": 1000},
        "campaigns": [{"id": "russia", "title": "R", "earmark": "for R", "goal": 100}],
        "donations": {"static_url": "https://donate.example.org/?c={campaign}&a={amount}"},
    }
    router = build_app(parse_config(data, environ={}), db).router
    counts = {"commands": 0, "crashes": 0}
    for user in ("admin", "alice"):
        for text in COMMANDS:
            counts["commands"] += 1
            chat = ChatRef("console", user, ChatKind.PRIVATE)
            try:
                reply = await router.handle(Incoming(chat, Sender("console", user), text, "1"))
            except Exception:
                logging.getLogger(__name__).exception("command crashed: %r", text[:40])
                counts["crashes"] += 1
                continue
            posts = reply if isinstance(reply, tuple) else (reply,) if reply else ()
            if any("something went wrong" in render_plain(p) for p in posts):
                print(f"  a handler raised on {text[:40]!r}")
                counts["crashes"] += 1
    return counts


async def main_async() -> None:
    recorder = Recorder()
    logging.getLogger().addHandler(recorder)
    logging.getLogger().setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        async with feed_server() as server, open_database(tmp / "feeds.sqlite3") as db:
            feeds = await run_feeds(server, db, tmp, recorder)
        async with open_database(tmp / "stripe.sqlite3") as db:
            stripe = await run_stripe(db, tmp, recorder)
        async with open_database(tmp / "commands.sqlite3") as db:
            commands = await run_commands(db, tmp)
    crashes = feeds["crashes"] + stripe["crashes"] + commands["crashes"]
    unlogged = feeds["unlogged"] + stripe["unlogged"]
    bad = crashes + stripe["ledger_changes"] + unlogged + feeds["wrongly_taken"]
    print(
        f"feeds={feeds['feeds']} stripe={stripe['stripe']} commands={commands['commands']} "
        f"crashes={crashes} ledger_changes={stripe['ledger_changes']} unlogged={unlogged} "
        f"wrongly_taken={feeds['wrongly_taken']} ratio={bad} target=0"
    )


def main() -> None:
    if not SHARED_FEEDS.is_dir():
        raise SystemExit(f"the real-world feeds are not at {SHARED_FEEDS} (../shared beside)")
    asyncio.run(main_async())


if __name__ == "__main__":
    main()
