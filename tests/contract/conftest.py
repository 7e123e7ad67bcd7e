"""The state backends every contract test runs against.

Each backend gives the location of a fresh, migrated, empty state: SQLite in a new file,
PostgreSQL in a new database copied from a migrated template on the session's throwaway
cluster (``tests/pgkit.py``). ``state`` is that state opened in the test's process; tests
that start other processes open the same ``state_location`` there. A new backend is added to
``BACKENDS``; the tests do not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from zone.state.api import State
from zone.state.location import PoolOptions, PostgresUrl, StateLocation
from zone.state.opening import open_state

POOL = PoolOptions(min_connections=1, max_connections=48)


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> StateLocation:
    return tmp_path / "state.db"


def _postgresql(request: pytest.FixtureRequest, tmp_path: Path) -> StateLocation:
    return PostgresUrl(request.getfixturevalue("pg_url"))


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], StateLocation]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
}


@pytest.fixture(params=sorted(BACKENDS))
def state_location(request: pytest.FixtureRequest, tmp_path: Path) -> StateLocation:
    location = BACKENDS[request.param](request, tmp_path)
    open_state(location, POOL).close()  # created and migrated
    return location


@pytest.fixture
def state(state_location: StateLocation) -> Iterator[State]:
    store = open_state(state_location, POOL)
    try:
        yield store
    finally:
        store.close()
