"""Fixtures of the verification unit tests: a real state database in a temporary folder."""

from __future__ import annotations

import pytest

from zone.audit import AuditChain
from zone.state import StateStore


@pytest.fixture
def chain(store: StateStore) -> AuditChain:
    return AuditChain(store)
