"""The pacer's door every API call passes, and its priority lane (issue 14)."""

from __future__ import annotations

import asyncio

import pytest

from bot.chat import CallGate, Pacer, urgent


async def test_an_urgent_call_goes_before_every_waiting_bulk_call() -> None:
    gate = CallGate(Pacer(rate=20.0, burst=1))  # a slot every 50 ms
    order: list[str] = []

    async def call(name: str) -> None:
        async with gate.call(name, "private"):
            order.append(name)

    async def reply() -> None:
        await asyncio.sleep(0.12)  # the fan-out is under way
        with urgent():
            await call("reply")

    async with asyncio.timeout(5):
        await asyncio.gather(*(call(f"bulk{n}") for n in range(10)), reply())
    # Asked after about three bulk calls had their turn: the reply took the very next slot.
    assert order.index("reply") <= 4, order
    assert sorted(order) == sorted([*(f"bulk{n}" for n in range(10)), "reply"])


async def test_a_chat_waiting_for_its_gap_does_not_hold_up_the_others() -> None:
    gate = CallGate(Pacer(rate=None, group_interval=0.5))
    order: list[str] = []

    async def call(chat: str, name: str) -> None:
        async with gate.call(chat, "channel"):
            order.append(name)

    async with asyncio.timeout(5):
        await call("news", "first")
        await asyncio.gather(call("news", "second"), call("other", "elsewhere"))
    assert order == ["first", "elsewhere", "second"]


async def test_a_flood_wait_pauses_the_whole_platform() -> None:
    class Flood(Exception):
        retry_after = 0.3

    gate = CallGate(Pacer(rate=None))
    with pytest.raises(Flood):
        async with gate.call("a", "private"):
            raise Flood
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with gate.call("b", "private"):
        waited = loop.time() - started
    assert waited >= 0.25
