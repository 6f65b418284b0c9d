"""Group commit for the delivery worker's writes: many rows' claims and outcomes in one
transaction.

A send is claimed (marked `sending`, durably) before it goes out and finished
(`sent`, with the message id) after; at a paid broadcast's 1,000 messages a second
two commits a message would be most of the bot's work. Here each caller still waits
until its own write is committed, so what a crash leaves behind is what it was
with a commit per write: a row is `sending` in the database before its message
can leave, and `sent` only once it has. Writes that come while a commit is under
way go into the next one. A claim is committed at once (its send waits for it);
an outcome waits up to OUTCOME_DELAY for the next claim's transaction (its send has
already been answered, and its slot freed), so a steady fan-out commits about once a
message, its claim and the outcome of an earlier one together.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.storage import Database
from bot.storage import outbox as q

OUTCOME_DELAY = 0.05  # seconds an outcome may wait to share a claim's transaction


class DeliveryWrites:
    """Claims and outcomes of delivery rows, committed in groups."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self._claims: list[tuple[int, asyncio.Future[bool]]] = []
        self._outcomes: list[tuple[q.Outcome, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    async def claim(self, delivery_id: int) -> bool:
        """Mark a pending row `sending`; returns once that is committed. False if another
        worker took it, or it was cancelled meanwhile."""
        claimed: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._claims.append((delivery_id, claimed))
        self._start()
        return await claimed

    async def finish(self, outcome: q.Outcome) -> None:
        """Write a row's final state; returns once that is committed."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outcomes.append((outcome, written))
        if self._writer is None and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(OUTCOME_DELAY, self._start)
        await written

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writer is None:
            # Started after the tasks already scheduled (the dispatcher starts several sends
            # at once): their writes join this first transaction.
            self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        try:
            while self._claims or self._outcomes:
                claims, self._claims = self._claims, []
                outcomes, self._outcomes = self._outcomes, []
                try:
                    async with self._db.transaction() as tx:
                        now = self._clock()
                        if outcomes:
                            await q.finish_many(tx, [o for o, _ in outcomes], now)
                        fence = self._db if isinstance(self._db, q.Fenced) else None
                        claimed = await q.claim_many(tx, [i for i, _ in claims], now, fence)
                except Exception as exc:  # each caller sees its write fail, as it would alone
                    futures: list[asyncio.Future[bool] | asyncio.Future[None]] = [
                        *(f for _, f in claims),
                        *(f for _, f in outcomes),
                    ]
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for delivery_id, claim in claims:
                    if not claim.done():
                        claim.set_result(delivery_id in claimed)
                for _, done in outcomes:
                    if not done.done():
                        done.set_result(None)
                if not self._claims:
                    break  # outcomes that came meanwhile wait for a claim, or the delay
        finally:
            self._writer = None
            if self._outcomes and self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(OUTCOME_DELAY, self._start)
