"""Fixtures shared by the unit tests: a fresh state database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zone.state import StateStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's state database lives (not created yet)."""
    return tmp_path / "state" / "zone.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[StateStore]:
    """A migrated state database, closed after the test."""
    with StateStore.open(db_path) as opened:
        yield opened
