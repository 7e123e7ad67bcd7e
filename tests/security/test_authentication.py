"""Authentication and authorization attacks against a real server."""

from __future__ import annotations

import grpc
import pytest
from zonekit import TOKENS, client, target

from zone._proto import catalog_pb2, catalog_pb2_grpc
from zone.client import PermissionDeniedError, UnauthenticatedError
from zone.server.app import RunningZone

LIST = catalog_pb2.ListDatasetsRequest()


def raw_call(zone: RunningZone, metadata: tuple[tuple[str, str], ...]) -> grpc.RpcError:
    with grpc.insecure_channel(target(zone)) as channel:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.ListDatasets(LIST, metadata=metadata, timeout=10)
    return err.value


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", "Bearer "),),
        (("authorization", "Bearer not-a-token"),),
        (("authorization", f"Basic {TOKENS['bank']}"),),
        (("authorization", TOKENS["bank"]),),
        (("authorization", f"Bearer {TOKENS['bank']}x"),),
        (("authorization", f"Bearer {TOKENS['bank'].upper()}"),),
        (("authorization", f"Bearer {TOKENS['expired']}"),),
        (("authorization", f"Bearer {TOKENS['bank']}"), ("authorization", "Bearer other")),
        (
            (
                "authorization",
                "Bearer d381aeab7c33617c78862a43d8abb59f6cf65eecc94eef67594ccb3e95a4a342",
            ),
        ),
    ],
    ids=[
        "none",
        "empty",
        "unknown",
        "basic-scheme",
        "no-scheme",
        "suffix",
        "case",
        "expired",
        "twice",
        "digest-as-token",
    ],
)
def test_bad_credentials_are_unauthenticated(
    shared_zone: RunningZone, metadata: tuple[tuple[str, str], ...]
) -> None:
    error = raw_call(shared_zone, metadata)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert TOKENS["bank"] not in (error.details() or "")


def test_expired_and_unknown_tokens_look_the_same(shared_zone: RunningZone) -> None:
    expired = raw_call(shared_zone, (("authorization", f"Bearer {TOKENS['expired']}"),))
    unknown = raw_call(shared_zone, (("authorization", "Bearer nope"),))
    assert expired.details() == unknown.details() == "invalid or expired credentials"


def test_denials_are_audited_with_reason(shared_zone: RunningZone) -> None:
    before, _ = shared_zone.services.audit.head()
    raw_call(shared_zone, (("authorization", f"Bearer {TOKENS['expired']}"),))
    with client(shared_zone, "researcher") as researcher, pytest.raises(PermissionDeniedError):
        researcher.verify_audit()
    records = [e.record for e in shared_zone.services.audit.entries(since_seq=before)]
    assert records[-2]["decision"] == "deny"
    assert records[-2]["status"] == "UNAUTHENTICATED"
    assert records[-2]["reason"] == "principal_expired"
    assert records[-1]["principal"] == "city-research"
    assert records[-1]["reason"] == "role_denied"
    assert records[-1]["status"] == "PERMISSION_DENIED"


def test_role_table_refuses_admin_methods_to_operators(shared_zone: RunningZone) -> None:
    with client(shared_zone, "bank") as bank, pytest.raises(PermissionDeniedError) as err:
        bank.reload_policies()
    assert err.value.message == "method not permitted for this role"


def test_unauthenticated_client_gets_nothing_from_any_zone_method(
    shared_zone: RunningZone,
) -> None:
    with client(shared_zone, None) as anonymous:
        for call in (
            anonymous.list_datasets,
            anonymous.list_products,
            lambda: anonymous.describe_dataset("enterprises"),
            lambda: anonymous.describe_product("enterprise-stats"),
            anonymous.verify_audit,
            anonymous.reload_policies,
        ):
            with pytest.raises(UnauthenticatedError):
                call()
