"""The per-client window behind the donate form's 429."""

from __future__ import annotations

from bot.web.ratelimit import ClientRateLimit
from tests.helpers import FakeClock


def test_each_client_has_its_own_sliding_window() -> None:
    clock = FakeClock(100.0)
    limit = ClientRateLimit(2, 60.0, clock)
    assert limit.allow("a")
    assert limit.allow("a")
    assert not limit.allow("a")
    assert limit.allow("b")
    assert limit.retry_after("a") == 61
    clock.now += 60.5
    assert limit.allow("a")
    assert limit.retry_after("nobody") == 0
