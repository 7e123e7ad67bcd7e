"""The state backends every contract test runs against.

Each backend yields a fresh, migrated, empty state store. A new backend (PostgreSQL, for
replicas) is added to ``BACKENDS``; the tests do not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from zone.state import StateStore
from zone.state.api import State


def _sqlite(tmp_path: Path) -> Iterator[State]:
    with StateStore.open(tmp_path / "state.db") as store:
        yield store


BACKENDS: dict[str, Callable[[Path], Iterator[State]]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[State]:
    yield from BACKENDS[request.param](tmp_path)
