"""Fixtures shared by the integration and security suites.

zonekit (and so the server) is imported inside the fixtures, so that unit tests of one package
can run while another package is broken.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pgkit import Cluster

    from zone.server.app import RunningZone


@pytest.fixture(scope="session")
def shared_zone_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zone folder used read-only by many tests (dataset imported once)."""
    from zonekit import make_zone_dir

    return make_zone_dir(tmp_path_factory.mktemp("shared-zone"))


@pytest.fixture(scope="module")
def shared_zone(shared_zone_dir: Path) -> Iterator[RunningZone]:
    """A running zone for tests that do not change its files."""
    from zonekit import running_zone

    with running_zone(shared_zone_dir) as zone:
        yield zone


@pytest.fixture
def zone_config(tmp_path: Path) -> Path:
    """A private zone folder (config path) for a test that changes files."""
    from zonekit import make_zone_dir

    return make_zone_dir(tmp_path / "zone")


@pytest.fixture
def zone(zone_config: Path) -> Iterator[RunningZone]:
    """A private running zone."""
    from zonekit import running_zone

    with running_zone(zone_config) as running:
        yield running


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL 15 cluster for the whole session (fails if it is not installed)."""
    from pgkit import running_cluster

    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def pg_template(pg_cluster: Cluster) -> str:
    """The name of a migrated, empty database that fresh test databases are copied from."""
    from zone.state.location import PoolOptions
    from zone.state.postgres import PostgresState

    name = "zone_template"
    url = pg_cluster.create_database(name)
    PostgresState.open(url, PoolOptions(min_connections=1, max_connections=1)).close()
    return name


@pytest.fixture
def pg_url(pg_cluster: Cluster, pg_template: str) -> Iterator[str]:
    """The URL of a fresh, migrated, empty state database (dropped afterwards)."""
    from pgkit import fresh_database

    with fresh_database(pg_cluster, pg_template) as url:
        yield url
