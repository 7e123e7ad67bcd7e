from __future__ import annotations

import pytest

from zone.audit import AuditChain
from zone.jobs import JobStore
from zone.state import StateStore


@pytest.fixture
def audit(store: StateStore) -> AuditChain:
    return AuditChain(store)


@pytest.fixture
def jobs(store: StateStore, audit: AuditChain) -> JobStore:
    return JobStore(store, audit)
