"""Fixtures for the adapter tests. The session's Synapse (`synapse`) lives in tests/conftest.py,
so the contract suite shares the same server."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def ptb_time_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 23's time periods, as the Telegram adapter chooses when it starts.

    The pure tests build PTB errors (RetryAfter reads its period as it is made)
    without starting an adapter.
    """
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
