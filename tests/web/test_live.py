"""Live figures: the ledger's changes reach event streams; framing, heartbeat, slow clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from bot.donations.campaigns import Campaign, Totals
from bot.donations.changes import CampaignChanges
from bot.web.live import QUEUE_SIZE, LiveHub
from bot.web.views import CampaignView
from tests.web.conftest import Site


async def frame(stream: aiohttp.StreamReader) -> bytes:
    return await asyncio.wait_for(stream.readuntil(b"\n\n"), 5)


def data_of(raw: bytes) -> dict[str, Any]:
    lines = raw.decode().rstrip("\n").split("\n")
    assert lines[0] == "event: progress"
    assert lines[1].startswith("data: ")
    assert len(lines) == 2  # one JSON line per event
    parsed: dict[str, Any] = json.loads(lines[1].removeprefix("data: "))
    return parsed


async def test_an_event_stream_sends_the_figures_each_change_and_heartbeats(site: Site) -> None:
    response = await site.client.get("/campaigns/russia/events?lang=en")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert await frame(response.content) == b"retry: 5000\n\n"
    first = data_of(await frame(response.content))
    assert (first["id"], first["raised"], first["donations"]) == ("russia", 0, 0)
    # Quiet: a comment line every heartbeat (0.2 s here).
    assert await frame(response.content) == b": heartbeat\n\n"
    assert await site.pay("cs_1", 1_000_000) == 200
    raw = await frame(response.content)
    while raw == b": heartbeat\n\n":
        raw = await frame(response.content)
    update = data_of(raw)
    assert update["raised"] == 1_000_000
    assert update["donations"] == 1
    assert update["display"] == {
        "percent": 50,
        "bar": 50,
        "raised": "$10,000",
        "goal": "$20,000",
        "summary": "$10,000 of $20,000",
        "donations": "1 donation",
        "monthly": "",  # a campaign without monthly gifts has no monthly line
    }
    response.close()


async def test_an_offline_gift_reaches_the_stream_in_the_readers_language(site: Site) -> None:
    response = await site.client.get("/campaigns/russia/events?lang=es")
    await frame(response.content)
    data_of(await frame(response.content))
    await site.donations.ledger.record_gift("russia", 25_000, "USD", "bank transfer")
    raw = await frame(response.content)
    while raw.startswith(b":"):
        raw = await frame(response.content)
    assert data_of(raw)["display"]["raised"] == "250\xa0US$"
    response.close()


async def test_a_closed_stream_is_forgotten(site: Site) -> None:
    hub = site.server.site.hub if site.server.site else None
    assert hub is not None
    response = await site.client.get("/campaigns/russia/events")
    await frame(response.content)
    assert hub.listening == 1
    response.close()
    for _ in range(50):  # the next heartbeat write finds the connection gone
        if hub.listening == 0:
            break
        await asyncio.sleep(0.05)
    assert hub.listening == 0


async def test_a_client_that_falls_behind_is_dropped_and_others_are_served() -> None:
    campaign = Campaign("russia", "Russia", "for Russia", 20_000_00, "USD", (5000,))
    raised = {"net": 0}

    async def view(c: Campaign) -> CampaignView:
        return CampaignView.of(c, {"USD": Totals(raised["net"], 1)})

    hub = LiveHub([campaign], view)
    slow, quick = hub.listen("russia", "en"), hub.listen("russia", "ru")
    for n in range(QUEUE_SIZE + 1):
        raised["net"] = n
        hub.changed(frozenset({"russia"}))
        await hub.tell()
        await quick.queue.get()  # this one keeps up
    assert slow.dropped
    assert not quick.dropped
    assert hub.listening == 1
    assert slow.queue.qsize() == QUEUE_SIZE  # bounded: nothing more was kept for it


async def test_the_ledger_publishes_the_campaigns_a_commit_changed(site: Site) -> None:
    seen: list[frozenset[str] | None] = []
    site.donations.changes.subscribe(seen.append)
    await site.donations.ledger.record_gift("russia", 500, "USD", "")
    await site.pay("cs_9", 500, campaign="nowhere")  # unassigned money moves no bar
    assert seen == [frozenset({"russia"})]


def test_a_change_with_an_unknown_campaign_means_any() -> None:
    changes = CampaignChanges(["a", "b"])
    seen: list[frozenset[str] | None] = []
    changes.subscribe(seen.append)
    changes.publish([None, "a"])
    changes.publish(["a"])
    changes.publish([])
    assert seen == [None, frozenset({"a"})]


async def test_the_ledger_publishes_each_commit_that_added_entries_once(site: Site) -> None:
    seen: list[frozenset[str] | None] = []
    site.donations.changes.subscribe(seen.append)
    assert await site.pay("cs_1", 500) == 200
    assert seen == [frozenset({"russia"})]
    assert await site.pay("cs_1", 500) == 200  # a replay adds nothing: no change to tell
    await site.donations.ledger.record_gift("russia", 1_000, "USD", "cash")
    assert seen == [frozenset({"russia"})] * 2
