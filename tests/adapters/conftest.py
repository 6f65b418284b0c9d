"""Fixtures for the adapter tests. The session's Synapse (`synapse`) lives in tests/conftest.py,
so the contract suite shares the same server."""
