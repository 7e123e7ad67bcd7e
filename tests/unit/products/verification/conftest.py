"""Fixtures of the verification unit tests: a real state database in a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zone.audit import AuditChain
from zone.state import StateStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(tmp_path / "state.sqlite") as opened:
        yield opened


@pytest.fixture
def chain(store: StateStore) -> AuditChain:
    return AuditChain(store)
