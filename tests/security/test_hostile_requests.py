"""Oversized messages, hostile names and internal failures: clear statuses, nothing leaked.

Random and mutated bytes for every method: tests/security/test_hostile_inputs.py.
"""

from __future__ import annotations

import logging

import grpc
import pytest
from zonekit import TOKENS, client, target

from zone._proto import catalog_pb2
from zone.client import InternalError, NotFoundError
from zone.server.app import RunningZone

AUTH = (("authorization", f"Bearer {TOKENS['admin']}"),)


def raw_unary(zone: RunningZone, method: str, payload: bytes) -> grpc.StatusCode:
    with grpc.insecure_channel(target(zone)) as channel:
        call = channel.unary_unary(method)  # bytes in, bytes out: no client-side encoding
        try:
            call(payload, metadata=AUTH, timeout=10)
        except grpc.RpcError as err:
            return err.code()
    return grpc.StatusCode.OK


def test_oversized_message_is_refused(shared_zone: RunningZone) -> None:
    big = catalog_pb2.DescribeDatasetRequest(name="x" * (5 * 1024 * 1024)).SerializeToString()
    code = raw_unary(shared_zone, "/zone.v1.CatalogService/DescribeDataset", big)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_unicode_and_sql_metacharacters_in_names(shared_zone: RunningZone) -> None:
    with client(shared_zone, "admin") as admin:
        for name in ["enterprises'; DROP TABLE ds_enterprises; --", "企业", '"', "\x00", "..//"]:
            with pytest.raises(NotFoundError):
                admin.describe_dataset(name)
        assert admin.describe_dataset("enterprises").summary.approx_row_count > 0


def test_internal_error_carries_only_a_request_id(
    zone: RunningZone, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode() -> None:
        raise RuntimeError("secret internal detail /var/lib/zone")

    monkeypatch.setattr(zone.services.verifier, "verify", explode)
    with caplog.at_level(logging.ERROR), client(zone, "admin") as admin:
        with pytest.raises(InternalError) as err:
            admin.verify_audit()
    request_id = err.value.request_id
    assert len(request_id) == 32
    assert request_id in err.value.message
    assert "secret" not in err.value.message
    assert any(request_id in r.getMessage() for r in caplog.records)
    audited = [e.record for e in zone.services.audit.entries() if e.kind == "rpc"]
    assert audited[-1]["request_id"] == request_id
    assert audited[-1]["status"] == "INTERNAL"


def test_request_id_is_returned_on_success(shared_zone: RunningZone) -> None:
    with grpc.insecure_channel(target(shared_zone)) as channel:
        call = channel.unary_unary(
            "/zone.v1.CatalogService/ListDatasets",
            request_serializer=catalog_pb2.ListDatasetsRequest.SerializeToString,
            response_deserializer=catalog_pb2.ListDatasetsResponse.FromString,
        )
        _, info = call.with_call(catalog_pb2.ListDatasetsRequest(), metadata=AUTH, timeout=10)
    ids = [v for k, v in info.trailing_metadata() if k == "x-request-id"]
    assert len(ids) == 1 and len(ids[0]) == 32
