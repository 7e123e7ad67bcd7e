"""Every reply names the zone instance that sent it, so a client can tell its zone from another."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from zonekit import TOKENS, make_zone_dir, running_zone, target

from zone._proto import catalog_pb2, catalog_pb2_grpc
from zone.client import FailedPreconditionError, ZoneClient
from zone.client.health import instance_of, wait_until_serving
from zone.server.app import RunningZone


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningZone]:
    with running_zone(make_zone_dir(tmp_path_factory.mktemp("instance"), rows=500)) as running:
        yield running


def test_health_ok_and_error_replies_carry_the_instance_id(zone: RunningZone) -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", zone.instance_id)
    with grpc.insecure_channel(target(zone)) as channel:
        _, health = health_pb2_grpc.HealthStub(channel).Check.with_call(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
        _, ok = catalog.ListDatasets.with_call(
            catalog_pb2.ListDatasetsRequest(),
            metadata=(("authorization", f"Bearer {TOKENS['bank']}"),),
            timeout=5,
        )
        with pytest.raises(grpc.RpcError) as refused:
            catalog.ListDatasets(catalog_pb2.ListDatasetsRequest(), timeout=5)  # no token
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    for call in (health, ok, refused.value):
        assert instance_of(call) == zone.instance_id  # type: ignore[arg-type]


def test_the_sdk_reports_and_checks_the_instance(zone: RunningZone) -> None:
    with ZoneClient(target(zone)) as client:
        assert client.instance_id() == zone.instance_id
    assert wait_until_serving(target(zone), instance=zone.instance_id) >= 0
    with pytest.raises(FailedPreconditionError, match="served by zone instance .* not 0000"):
        wait_until_serving(target(zone), instance="0000000000000000", timeout=5)


def test_each_start_draws_a_new_instance_id(zone: RunningZone, tmp_path: Path) -> None:
    with running_zone(make_zone_dir(tmp_path, rows=200)) as other:
        assert other.instance_id != zone.instance_id
        with ZoneClient(target(other)) as client:
            assert client.instance_id() == other.instance_id
