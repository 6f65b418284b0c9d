"""Typed queries for WebSub subscriptions (hub, topic, secret, lease, state)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.db import Executor, Row

REQUESTED = "requested"
SUBSCRIBED = "subscribed"
DENIED = "denied"
FAILED = "failed"
UNSUBSCRIBING = "unsubscribing"


@dataclass(frozen=True, slots=True)
class Subscription:
    feed: str
    hub: str
    topic: str
    secret: str
    allow_private: bool
    state: str
    lease_seconds: float | None
    lease_until: float | None
    changed_at: float
    error: str | None

    def pushing(self, now: float) -> bool:
        """A verified subscription whose lease has not run out."""
        return self.state == SUBSCRIBED and (self.lease_until is None or self.lease_until > now)


_SELECT = (
    "SELECT feed, hub, topic, secret, allow_private, state, lease_seconds, lease_until, "
    "changed_at, error FROM websub"
)


def _subscription(r: Row) -> Subscription:
    return Subscription(
        feed=r["feed"],
        hub=r["hub"],
        topic=r["topic"],
        secret=r["secret"],
        allow_private=bool(r["allow_private"]),
        state=r["state"],
        lease_seconds=r["lease_seconds"],
        lease_until=r["lease_until"],
        changed_at=r["changed_at"],
        error=r["error"],
    )


async def get(db: Executor, feed: str) -> Subscription | None:
    row = await db.fetch_one(_SELECT + " WHERE feed = ?", (feed,))
    return None if row is None else _subscription(row)


async def all_subscriptions(db: Executor) -> list[Subscription]:
    rows = await db.fetch_all(_SELECT + " ORDER BY feed")
    return [_subscription(r) for r in rows]


async def request(db: Executor, sub: Subscription) -> None:
    """Store a subscription as asked for at its hub (new, renewed, or being cancelled)."""
    await db.execute(
        "INSERT INTO websub (feed, hub, topic, secret, allow_private, state, lease_seconds, "
        "lease_until, changed_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (feed) DO UPDATE SET hub = excluded.hub, topic = excluded.topic, "
        "secret = excluded.secret, allow_private = excluded.allow_private, "
        "state = excluded.state, lease_seconds = excluded.lease_seconds, "
        "lease_until = excluded.lease_until, changed_at = excluded.changed_at, "
        "error = excluded.error",
        (
            sub.feed, sub.hub, sub.topic, sub.secret, int(sub.allow_private), sub.state,
            sub.lease_seconds, sub.lease_until, sub.changed_at, sub.error,
        ),
    )  # fmt: skip


async def set_state(
    db: Executor,
    feed: str,
    state: str,
    now: float,
    *,
    lease_seconds: float | None = None,
    error: str | None = None,
) -> None:
    """A new state; `lease_seconds` starts a lease now (else the lease is kept as it was)."""
    if lease_seconds is not None:
        await db.execute(
            "UPDATE websub SET lease_seconds = ?, lease_until = ? WHERE feed = ?",
            (lease_seconds, now + lease_seconds, feed),
        )
    await db.execute(
        "UPDATE websub SET state = ?, error = ?, changed_at = ? WHERE feed = ?",
        (state, error, now, feed),
    )


async def delete(db: Executor, feed: str) -> None:
    await db.execute("DELETE FROM websub WHERE feed = ?", (feed,))
