"""What a platform's new sender does about rows its former holder left `sending`.

Claims are fenced by the role's lock (`bot.storage.roles.FencedDatabase`): a row is
claimed only while its claimer's lock connection holds the role, so every row left
`sending` when a new holder takes the role was claimed before, by a former holder. The
crash rules apply to them, once it is safe:

- the former holder is gone (no connection to the database: killed, crashed, its
  machine lost), or it is this instance itself (its worker has stopped): at once;
- the former holder is still connected (it lost only its lock connection, and may be
  finishing those sends): rows that would be re-sent wait until it has certainly stopped
  (`former_holder_quiet_after`: it notices within a third of the lease and a ping's
  timeout, and stops its sends within `STOP_GRACE`), so a row is never sent by two
  instances at once; rows that would become `unknown` are marked at once (if the former
  holder's send then ends, its own answer overwrites that mark).

Matrix rows are re-sent with the same transaction id; Telegram rows become `unknown`
and are not re-sent unless `[telegram] delivery = "at_least_once"`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from bot.instances import STOP_GRACE
from bot.outbox.wake import WakeSignals
from bot.storage import outbox as q
from bot.storage.postgres import PostgresDatabase
from bot.storage.roles import PING_TIMEOUT, still_connected, swap_holder

log = logging.getLogger(__name__)

# Telegram's flood limits are rolling windows of a second: a former holder may have used
# a whole one just before it died, so its successor lets one pass before its first send.
ROLLING_WINDOW = 1.0


def former_holder_quiet_after(lease: float) -> float:
    """Seconds after a role changes hands by which its former holder has stopped sending."""
    return lease / 3 + PING_TIMEOUT + STOP_GRACE + 1.0


class Takeover:
    """The crash rules for one platform's sender role, applied by each new holder."""

    def __init__(
        self,
        db: PostgresDatabase,
        platform: str,
        instance: str,
        *,
        resend: bool,
        wake: WakeSignals,
        settle_after: float,
        clock: Callable[[], float],
    ) -> None:
        self.db = db
        self.platform = platform
        self.instance = instance
        self.resend = resend
        self.wake = wake
        self.settle_after = settle_after
        self.clock = clock
        self._waiting: list[int] = []
        self.first_send_after = 0.0  # seconds the worker waits after a takeover

    async def on_take(self) -> None:
        """On taking the role: resolve the rows left `sending` now, or note them for later."""
        former = await swap_holder(self.db, self.platform, self.instance)
        self.first_send_after = ROLLING_WINDOW if former not in (None, self.instance) else 0.0
        ids = await q.sending_ids(self.db, self.platform)
        self._waiting = []
        if not ids:
            return
        if self.resend and former not in (None, self.instance):
            assert former is not None
            if await still_connected(self.db, former):
                self._waiting = ids
                log.warning(
                    "%s: %d deliveries in flight on instance %s wait %.0f s before a re-send",
                    self.platform, len(ids), former, self.settle_after,
                )  # fmt: skip
                return
        await self._resolve(ids)

    async def settle(self, stop: asyncio.Event) -> None:
        """A job of the role: re-send what `on_take` set aside, once the former holder
        has certainly stopped (unless this instance loses the role first)."""
        waiting, self._waiting = self._waiting, []
        if not waiting:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self.settle_after)
        if not stop.is_set():
            await self._resolve(waiting)
            self.wake(self.platform)

    async def _resolve(self, ids: list[int]) -> None:
        n = await q.recover_rows(self.db, ids, resend=self.resend, now=self.clock())
        if n:
            what = "will be re-sent" if self.resend else "marked unknown"
            log.warning("%s: %d interrupted deliveries %s", self.platform, n, what)
