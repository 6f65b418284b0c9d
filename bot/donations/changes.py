"""Campaign total changes, published by the ledger after a commit, for live views.

The ledger calls `CampaignChanges.publish` once per committed transaction that
added entries, with the campaign of each new entry (None for a refund or dispute
whose campaign is found through its payment, which may be any campaign).
Subscribers are plain callables run at once, in the ledger's task: they must only
note the change and return (the web server's live hub wakes its own task).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable

log = logging.getLogger(__name__)

ChangeListener = Callable[[frozenset[str] | None], None]


class CampaignChanges:
    """A tiny publish/subscribe point between the ledger and whoever shows totals live."""

    def __init__(self, campaign_ids: Iterable[str] = ()) -> None:
        self._campaigns = frozenset(campaign_ids)
        self._listeners: list[ChangeListener] = []

    def subscribe(self, listener: ChangeListener) -> None:
        """Call `listener` with the changed campaign ids (None: any may have changed)."""
        self._listeners.append(listener)

    def publish(self, campaigns: Collection[str | None]) -> None:
        """The ledger committed entries for these campaigns (None: found later, so any)."""
        if not campaigns:
            return
        changed = None if None in campaigns else frozenset(c for c in campaigns if c)
        if changed is not None and self._campaigns and not changed & self._campaigns:
            return  # money no configured campaign claims ("unassigned") moves no bar
        for listener in self._listeners:
            try:
                listener(changed)
            except Exception:
                # A broken view must never fail the ledger write that already committed.
                log.exception("a campaign change listener failed")
