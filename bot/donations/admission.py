"""Which Stripe facts the ledger counts: only the bot's own payments, in the key's mode.

A Stripe account is shared: an organisation may sell memberships on it, and it has a
test and a live world. The ledger counts a payment only when its metadata carries the
bot's marker (`source` = `outreach-bot`), a refund or dispute only when it is about a
payment the ledger counts, and nothing from the other mode. What is skipped is summed
in one log line a day, and a wrong-mode event is logged once per mode: never a message
to anyone.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from bot.donations import events as ev
from bot.storage import ledger as lq
from bot.storage.db import Executor

log = logging.getLogger(__name__)

DAY = 24 * 3600


def mode_of(livemode: bool | None) -> str:
    """The ledger's name for an event's world: "live", "test", or "" when not said."""
    if livemode is None:
        return ""
    return "live" if livemode else "test"


class Admission:
    """Decides per fact whether the ledger keeps it; keeps count of what it skips."""

    def __init__(self, mode: str | None, *, clock: Callable[[], float] = time.time) -> None:
        self.mode = mode  # the configured key's mode; None: no Stripe key, keep any mode
        self.clock = clock
        self._warned_modes: set[str] = set()
        self._skipped: Counter[str] = Counter()
        self._day: int | None = None

    def modes(self) -> tuple[str, ...]:
        """The entry modes totals count: offline gifts and the key's mode."""
        return ("", "test", "live") if self.mode is None else ("", self.mode)

    async def keep(self, db: Executor, fact: ev.Fact) -> bool:
        """Whether the ledger should record `fact` (read-only checks against `db`)."""
        mode = mode_of(fact.livemode)
        if self.mode is not None and mode and mode != self.mode:
            if mode not in self._warned_modes:
                self._warned_modes.add(mode)
                log.warning(
                    "ignoring Stripe events from %s mode: the configured key is a %s-mode key "
                    "(logged once)",
                    mode,
                    self.mode,
                )
            return False
        if await self._ours(db, fact):
            return True
        self._skip(fact.kind)
        return False

    @staticmethod
    async def _ours(db: Executor, fact: ev.Fact) -> bool:
        if fact.kind in (ev.PAYMENT, ev.PAYMENT_FAILED, ev.SUBSCRIPTION_STARTED):
            return fact.marked
        if fact.kind == ev.REFUND:
            # The charge of a bot's one-off payment carries the marker (Stripe copies the
            # PaymentIntent's metadata); a monthly payment's is found by its intent.
            return fact.marked or await _counted_intent(db, fact.payment_intent)
        if fact.kind == ev.INVOICE_PAYMENT:
            return await lq.has_entry(db, fact.object_id, ev.PAYMENT)
        if fact.kind == ev.SUBSCRIPTION_ENDED:
            return fact.marked or await lq.subscription_counted(db, fact.object_id)
        # Disputes name no metadata: they count when they are about a counted payment.
        return await _counted_intent(db, fact.payment_intent)

    def _skip(self, kind: str) -> None:
        """Count a skipped fact; once a day, one log line sums the day before."""
        today = int(self.clock() // DAY)
        if self._day is not None and today != self._day:
            self.flush()
        self._day = today
        self._skipped[kind] += 1

    def flush(self) -> None:
        """Log the count of skipped facts so far (if any) and start counting again."""
        if self._skipped:
            log.info(
                "skipped Stripe objects the bot did not create (no source=%s marker): %s",
                ev.SOURCE_VALUE,
                ", ".join(f"{kind} {n}" for kind, n in sorted(self._skipped.items())),
            )
        self._skipped.clear()


async def _counted_intent(db: Executor, payment_intent: str | None) -> bool:
    return payment_intent is not None and await lq.counted_intent(db, payment_intent)
