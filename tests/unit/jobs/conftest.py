from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zone.audit import AuditChain
from zone.jobs import JobStore
from zone.state import StateStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "zone.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[StateStore]:
    with StateStore.open(db_path) as opened:
        yield opened


@pytest.fixture
def audit(store: StateStore) -> AuditChain:
    return AuditChain(store)


@pytest.fixture
def jobs(store: StateStore, audit: AuditChain) -> JobStore:
    return JobStore(store, audit)
