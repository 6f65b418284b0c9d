"""The ledger service: Stripe events and offline gifts in, totals and milestones out.

Entries are append-only and keyed by object and kind, so any event delivered
any number of times in any order gives the same totals. Whatever must happen
exactly once because of a new entry (the admins' notice about an unknown
campaign, a donor's thank-you, a milestone post) is written to the outbox in
the same transaction as the entry.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.chat import ChatRef
from bot.donations import events as ev
from bot.donations.admission import Admission, mode_of
from bot.donations.campaigns import UNASSIGNED, Campaign, Progress, Totals, progress_from_totals
from bot.donations.notices import LedgerNotices
from bot.outbox import Outbox
from bot.outbox.audience import Audience
from bot.storage import Database, Tx
from bot.storage import ledger as lq
from bot.storage import thanks as tq

log = logging.getLogger(__name__)

THANK_LINK_LIFETIME = 7 * 24 * 3600.0  # Checkout Sessions expire after a day; links after a week
MAX_BATCH = 64  # calls written in one transaction at most (see Ledger._append)

# How an entry of these kinds moves its own campaign's net total (as the `ledger_net` view
# counts it). Entries of other kinds (refunds, disputes) can change what earlier entries
# count for, so after them the totals are summed again (see Ledger._raised).
_OWN_CHANGE = {
    ev.PAYMENT: 1,
    ev.PAYMENT_FAILED: 0,
    ev.GIFT: 1,
    ev.GIFT_VOID: -1,
    ev.SUBSCRIPTION_ENDED: 0,
}


class Unrecorded(enum.Enum):
    DONE = "done"
    NOT_FOUND = "not_found"
    NOT_A_GIFT = "not_a_gift"
    ALREADY = "already"


@dataclass(eq=False, slots=True)
class _Pending:
    """One call's entries waiting for a transaction, and what became of them."""

    items: Sequence[tuple[lq.NewEntry, ev.Fact | None]]
    finished: bool = False
    ids: list[int] = field(default_factory=list)
    error: Exception | None = None

    def finish(self, ids: list[int]) -> None:
        self.ids, self.finished = ids, True

    def fail(self, error: Exception) -> None:
        self.error, self.finished = error, True


@dataclass(frozen=True, slots=True)
class _Raised:
    """Every active campaign's net total as of ledger entry `upto` (the highest id), and
    milestones known to be passed (a subset of those recorded, so never a false "passed")."""

    upto: int
    raised: dict[str, int]
    passed: dict[str, frozenset[int]]


@dataclass(frozen=True, slots=True)
class UnrecordResult:
    outcome: Unrecorded
    entry: lq.Entry | None = None


class Ledger:
    """Applies facts to the append-only ledger and reports campaign totals."""

    def __init__(
        self,
        db: Database,
        audience: Audience,
        outbox: Outbox,
        campaigns: Mapping[str, Campaign],
        *,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[Collection[str | None]], None] | None = None,
        mode: str | None = None,
        portal_url: str = "",
    ) -> None:
        self.db = db
        self.audience = audience
        self.outbox = outbox
        self._on_change = on_change  # told after each commit that added entries (live views)
        self.campaigns = dict(campaigns)
        self.clock = clock
        self.admission = Admission(mode, clock=clock)
        self.notices = LedgerNotices(audience, self.campaigns, portal_url)
        self._pending: list[_Pending] = []
        self._batch_lock = asyncio.Lock()
        self._raised_memo: _Raised | None = None  # as of the last commit (see _raised)

    # --- in -------------------------------------------------------------------------

    async def apply_event(self, event: Mapping[str, Any]) -> int:
        """Apply one Stripe event (a JSON dict); the number of new entries (0 on a replay)."""
        kind = str(event.get("type", ""))
        try:
            facts = ev.facts_from_event(event)
        except ev.MalformedEvent as exc:
            log.warning("ignored a malformed %s event: %s", kind, exc)
            return 0
        kept = [f for f in facts if await self.admission.keep(self.db, f)]
        new = 0
        for fact in [f for f in kept if f.kind == ev.SUBSCRIPTION_STARTED]:
            await self._thank_only(fact)
        entries = [(self._entry(f), f) for f in kept if f.kind != ev.SUBSCRIPTION_STARTED]
        if entries:
            new = len(await self._append(entries))
        return new

    @property
    def mode(self) -> str | None:
        """The configured key's mode ("test" or "live"); None without a Stripe key."""
        return self.admission.mode

    def _entry(self, fact: ev.Fact) -> lq.NewEntry:
        known = fact.campaign if fact.campaign in self.campaigns else None
        if fact.kind in (ev.PAYMENT, ev.PAYMENT_FAILED):
            # A payment always has a campaign: an unknown one is kept, visibly, as unassigned.
            campaign: str | None = known or UNASSIGNED
        else:
            # Refunds and disputes find their campaign through the payment intent when summed.
            campaign = known
        return lq.NewEntry(
            object_id=fact.object_id,
            kind=fact.kind,
            variant=fact.variant,
            amount=fact.amount,
            currency=fact.currency,
            occurred_at=fact.occurred_at,
            campaign=campaign,
            campaign_ref=fact.campaign if known is None else None,
            payment_intent=fact.payment_intent,
            event_id=fact.event_id,
            mode=mode_of(fact.livemode),
            subscription=fact.subscription,
        )

    async def record_gift(self, campaign: str, amount: int, currency: str, note: str) -> int:
        """Record an offline gift (admin /record); its entry id."""
        entry = lq.NewEntry(
            object_id=f"gift:{secrets.token_hex(8)}",
            kind=ev.GIFT,
            amount=amount,
            currency=currency.upper(),
            occurred_at=self.clock(),
            campaign=campaign,
            note=note,
        )
        (entry_id,) = await self._append([(entry, None)])
        return entry_id

    async def unrecord(self, entry_id: int) -> UnrecordResult:
        """Cancel an offline gift by appending a void entry (nothing is ever deleted)."""
        entry = await lq.get_entry(self.db, entry_id)
        if entry is None:
            return UnrecordResult(Unrecorded.NOT_FOUND)
        if entry.kind != ev.GIFT:
            return UnrecordResult(Unrecorded.NOT_A_GIFT, entry)
        void = lq.NewEntry(
            object_id=entry.object_id,
            kind=ev.GIFT_VOID,
            amount=entry.amount,
            currency=entry.currency,
            occurred_at=self.clock(),
            campaign=entry.campaign,
            note=f"cancels #{entry.id}",
        )
        added = await self._append([(void, None)])
        return UnrecordResult(Unrecorded.DONE if added else Unrecorded.ALREADY, entry)

    async def thank_token(self, request_key: str, chat: ChatRef, language: str = "") -> str:
        """The opaque token that lets the bot thank `chat` once (in `language`) when this
        payment lands."""
        now = self.clock()
        return await tq.thank_token(
            self.db,
            request_key=request_key,
            new_token=secrets.token_urlsafe(16),
            link=tq.ThankLink(chat.platform, chat.id, str(chat.kind), language),
            now=now,
            expire_before=now - THANK_LINK_LIFETIME,
        )

    # --- the one transaction ------------------------------------------------------

    async def _append(self, items: Sequence[tuple[lq.NewEntry, ev.Fact | None]]) -> list[int]:
        """Append what is new, with its consequences, in one transaction; the new ids.

        Calls that arrive while a transaction is being written wait and are then
        written together, in one transaction (group commit): each call's entries
        with their consequences, and one milestone check for the lot. Under load
        that is one commit and one total per batch instead of per event; alone, a
        call is written at once. Every call returns only after its transaction
        has committed.
        """
        mine = _Pending(items)
        self._pending.append(mine)
        try:
            async with self._batch_lock:
                while not mine.finished:
                    batch = self._pending[:MAX_BATCH]
                    del self._pending[:MAX_BATCH]
                    if not batch:
                        raise RuntimeError("a ledger write was lost from the queue")
                    await self._write_to_the_end(batch)
        except BaseException:
            if mine in self._pending:  # cancelled before anyone took it
                self._pending.remove(mine)
            raise
        if mine.error is not None:
            raise mine.error
        return mine.ids

    async def _write_to_the_end(self, batch: list[_Pending]) -> None:
        """Write a batch; the caller that writes it being cancelled does not stop it (the
        other calls in it are waiting for it), so each call knows what became of it."""
        write = asyncio.ensure_future(self._write_batch(batch))
        cancelled = False
        while not write.done():
            try:
                await asyncio.shield(write)
            except asyncio.CancelledError:
                cancelled = True
        for pending in batch:
            if not pending.finished:  # only if the write itself died (not an Exception)
                pending.fail(RuntimeError("the ledger write was interrupted"))
        if cancelled:
            raise asyncio.CancelledError
        write.result()

    async def _write_batch(self, batch: list[_Pending]) -> None:
        """One transaction for the batch; if that fails, each call alone, so that one bad
        call cannot fail the others."""
        try:
            results = await self._transaction([p.items for p in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].fail(exc)
                return
            log.warning("a batch of %d ledger writes failed; writing them one by one", len(batch))
            for pending in batch:
                try:
                    (ids,) = await self._transaction([pending.items])
                except Exception as one:
                    pending.fail(one)
                else:
                    pending.finish(ids)
            return
        for pending, ids in zip(batch, results, strict=True):
            pending.finish(ids)

    async def _transaction(
        self, calls: Sequence[Sequence[tuple[lq.NewEntry, ev.Fact | None]]]
    ) -> list[list[int]]:
        """One transaction for the calls' entries and consequences; the new ids per call."""
        added: list[list[int]] = []
        new: list[tuple[int, lq.NewEntry]] = []
        memo: _Raised | None = None
        async with self.db.transaction() as tx:
            now = self.clock()
            entry_ids = iter(
                await lq.append_entries(tx, [e for items in calls for e, _ in items], now)
            )
            for items in calls:
                ids: list[int] = []
                for entry, fact in items:
                    entry_id = next(entry_ids)
                    if entry_id is None:
                        continue
                    ids.append(entry_id)
                    new.append((entry_id, entry))
                    if fact is not None and fact.kind == ev.PAYMENT:
                        await self.notices.after_payment(tx, entry, fact)
                added.append(ids)
            if new:
                memo = await self._raised(tx, new)
                passed = await self.notices.milestones(tx, memo.raised, memo.passed, now)
                memo = _Raised(memo.upto, memo.raised, passed)
                if self._on_change is not None:
                    tx.after_commit(partial(self._on_change, [entry.campaign for _, entry in new]))
        if memo is not None:
            self._raised_memo = memo  # only once committed
        if new:
            # One line per commit (a busy webhook commits several events at once).
            kinds = Counter(entry.kind for _, entry in new)
            log.info(
                "ledger: %d new entr%s (%s)",
                len(new),
                "y" if len(new) == 1 else "ies",
                ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())),
            )
        return added

    async def _raised(self, tx: Tx, new: list[tuple[int, lq.NewEntry]]) -> _Raised:
        """Every active campaign's net total with this transaction's new entries.

        Summing the ledger takes time in proportion to its size. So when the totals
        remembered from the last commit are still current (the new entries got the
        very next ids: nobody else wrote in between) and the new entries count only
        for themselves (payments, failed payments, gifts and voids, with no refund or
        dispute waiting for their payment intent), their amounts are added to those
        totals: the same numbers the sum would give. Otherwise, and after a restart,
        the ledger is summed.
        """
        memo = self._raised_memo
        ids = sorted(entry_id for entry_id, _ in new)
        entries = [entry for _, entry in new]
        if (
            memo is not None
            and ids == list(range(memo.upto + 1, ids[-1] + 1))
            and await self._count_only_for_themselves(tx, entries)
        ):
            raised = dict(memo.raised)
            for entry in entries:
                campaign = self.campaigns.get(entry.campaign or "")
                if campaign and campaign.id in raised and entry.currency == campaign.currency:
                    raised[campaign.id] += _OWN_CHANGE[entry.kind] * entry.amount
            return _Raised(ids[-1], raised, memo.passed)
        raised = {
            c.id: await lq.campaign_net(tx, c.id, c.currency, self.admission.modes())
            for c in self.campaigns.values()
            if c.active
        }
        return _Raised(ids[-1], raised, memo.passed if memo else {})

    @staticmethod
    async def _count_only_for_themselves(tx: Tx, entries: list[lq.NewEntry]) -> bool:
        """Whether the entries change no total but their own campaign's (see `_raised`)."""
        if any(entry.kind not in _OWN_CHANGE for entry in entries):
            return False
        intents = sorted(
            {e.payment_intent for e in entries if e.kind == ev.PAYMENT and e.payment_intent}
        )
        # A refund or dispute that arrived before its payment finds its campaign through it.
        return not intents or not await lq.awaiting_payment(tx, intents)

    async def _thank_only(self, fact: ev.Fact) -> None:
        """A monthly gift began (its money comes with its invoices): only the thank-you."""
        async with self.db.transaction() as tx:
            await self.notices.thank(tx, fact)

    # --- out ------------------------------------------------------------------------

    async def totals(self) -> dict[str, dict[str, Totals]]:
        """Net total and donation count per campaign (or 'unassigned') and currency."""
        out: dict[str, dict[str, Totals]] = {}
        for row in await lq.totals(self.db, self.admission.modes()):
            out.setdefault(row.campaign, {})[row.currency] = Totals(row.net, row.donations)
        return out

    async def monthly(self) -> dict[str, dict[str, lq.MonthlyRow]]:
        """Running monthly gifts per campaign and currency."""
        out: dict[str, dict[str, lq.MonthlyRow]] = {}
        for row in await lq.monthly(self.db, self.admission.modes()):
            out.setdefault(row.campaign, {})[row.currency] = row
        return out

    async def progress(self, campaign_ids: Sequence[str] | None = None) -> list[Progress]:
        """Progress of the named campaigns (default: every configured one), in config order."""
        ids = list(self.campaigns) if campaign_ids is None else list(campaign_ids)
        totals = await self.totals()
        monthly = await self.monthly()
        out = []
        for i in ids:
            campaign = self.campaigns[i]
            row = monthly.get(i, {}).get(campaign.currency)
            running = (row.supporters, row.amount) if row else (0, 0)
            out.append(progress_from_totals(campaign, totals.get(i, {}), running))
        return out
