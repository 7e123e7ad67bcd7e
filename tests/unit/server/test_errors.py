from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from zone.errors import (
    DeadlineExceeded,
    ErrorCode,
    InvalidArgument,
    PermissionDenied,
    Problem,
    ResourceExhausted,
    Unavailable,
    ValidationFailed,
    ZoneError,
)
from zone.server.errors import STATUS_OF, internal_status, status_for
from zone.server.interceptor import bearer_token
from zone.server.servicers.admin import PolicySetRejected


def _details(status: grpc.Status) -> status_pb2.Status:
    raw = dict(status.trailing_metadata)["grpc-status-details-bin"]
    assert isinstance(raw, bytes)
    return status_pb2.Status.FromString(raw)


def test_every_error_code_has_a_status() -> None:
    assert set(STATUS_OF) == set(ErrorCode)
    assert STATUS_OF[ErrorCode.INTERNAL] == grpc.StatusCode.INTERNAL


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidArgument("bad"), grpc.StatusCode.INVALID_ARGUMENT),
        (PermissionDenied("no"), grpc.StatusCode.PERMISSION_DENIED),
        (ResourceExhausted("spent"), grpc.StatusCode.RESOURCE_EXHAUSTED),
    ],
)
def test_status_carries_code_and_public_message(error: ZoneError, code: grpc.StatusCode) -> None:
    status = status_for(error)
    assert status.code == code and status.details == error.message


def test_validation_problems_become_bad_request_details() -> None:
    error = ValidationFailed([Problem("q", 3, "no such column"), Problem("q", None, "x")])
    detail = _details(status_for(error)).details[0]
    bad = error_details_pb2.BadRequest()
    assert detail.Unpack(bad)
    assert [v.field for v in bad.field_violations] == ["q:3", "q"]


def test_rejected_policy_set_is_a_precondition_failure() -> None:
    status = status_for(PolicySetRejected([Problem("policies/a.yaml", 2, "bad role")]))
    assert status.code == grpc.StatusCode.FAILED_PRECONDITION
    failure = error_details_pb2.PreconditionFailure()
    assert _details(status).details[0].Unpack(failure)
    assert failure.violations[0].subject == "policies/a.yaml:2"


def test_internal_status_only_names_the_request() -> None:
    status = internal_status("abc123")
    assert status.code == grpc.StatusCode.INTERNAL
    assert status.details == "internal error (request id abc123)"


@pytest.mark.parametrize(
    ("metadata", "token"),
    [
        ((), None),
        ((("authorization", "Bearer t0k"),), "t0k"),
        ((("Authorization", "bearer  t0k "),), "t0k"),
        ((("x-other", "Bearer t"),), None),
    ],
)
def test_bearer_token_parsing(metadata: tuple[tuple[str, str], ...], token: str | None) -> None:
    assert bearer_token(metadata) == token


@pytest.mark.parametrize(
    "metadata",
    [
        (("authorization", "Basic abc"),),
        (("authorization", "Bearer"),),
        (("authorization", b"Bearer x"),),
        (("authorization", "Bearer a"), ("authorization", "Bearer a")),
    ],
)
def test_malformed_authorization_is_unauthenticated(
    metadata: tuple[tuple[str, str | bytes], ...],
) -> None:
    from zone.errors import Unauthenticated

    with pytest.raises(Unauthenticated):
        bearer_token(metadata)


def test_unavailable_carries_a_retry_hint() -> None:
    status = status_for(Unavailable("busy", retry_after_seconds=1.5))
    assert status.code == grpc.StatusCode.UNAVAILABLE
    info = error_details_pb2.RetryInfo()
    assert _details(status).details[0].Unpack(info)
    assert info.retry_delay.ToNanoseconds() == 1_500_000_000


def test_deadline_exceeded_maps_to_its_grpc_code() -> None:
    assert status_for(DeadlineExceeded("late")).code == grpc.StatusCode.DEADLINE_EXCEEDED


def test_statuses_stay_below_the_clients_metadata_limit() -> None:
    """A message echoing a caller's huge value must not make the client drop the status."""
    huge = "x" * 100_000 + "企业" * 10_000
    error = ValidationFailed([Problem(huge, 1, huge) for _ in range(500)], what=huge)
    status = status_for(error)
    size = sum(len(k) + len(v) for k, v in status.trailing_metadata)
    assert len(status.details.encode()) <= 1000 and status.details.endswith("(clipped)")
    assert size + 3 * len(status.details.encode()) < 8192  # grpcio's default soft limit
    bad = error_details_pb2.BadRequest()
    assert _details(status).details[0].Unpack(bad)
    assert bad.field_violations[-1].description.endswith("more problem(s)")
