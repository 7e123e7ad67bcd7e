"""The error catalog: the one place that maps domain errors to gRPC statuses.

Every :class:`~zone.errors.ZoneError` carries a public message and a code; it becomes a gRPC
status with that message and, where useful, a rich detail (google.rpc.BadRequest for validation
problems, PreconditionFailure for a rejected policy set, QuotaFailure for an exhausted budget
or quota). Any other exception becomes INTERNAL with a generic message and the request id,
which also appears in the server log and the audit chain; internal detail never reaches the
caller.
"""

from __future__ import annotations

import collections
from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from zone.errors import (
    ErrorCode,
    FailedPrecondition,
    Problem,
    ResourceExhausted,
    ValidationFailed,
    ZoneError,
)

STATUS_OF: dict[ErrorCode, grpc.StatusCode] = {
    ErrorCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorCode.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    ErrorCode.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    ErrorCode.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorCode.INTERNAL: grpc.StatusCode.INTERNAL,
}

MAX_DETAIL_PROBLEMS = 200


def _where(problem: Problem) -> str:
    return f"{problem.source}:{problem.line}" if problem.line else problem.source


def _details(error: ZoneError) -> list[any_pb2.Any]:
    if isinstance(error, ResourceExhausted) and error.violations:
        packed = any_pb2.Any()
        packed.Pack(
            error_details_pb2.QuotaFailure(
                violations=[
                    error_details_pb2.QuotaFailure.Violation(subject=s, description=d)
                    for s, d in error.violations
                ]
            )
        )
        return [packed]
    if not isinstance(error, ValidationFailed):
        return []
    problems = error.problems[:MAX_DETAIL_PROBLEMS]
    packed = any_pb2.Any()
    if isinstance(error, FailedPrecondition):
        packed.Pack(
            error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(
                        type="policy", subject=_where(p), description=p.message
                    )
                    for p in problems
                ]
            )
        )
    else:
        packed.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=_where(p), description=p.message
                    )
                    for p in problems
                ]
            )
        )
    return [packed]


def status_for(error: ZoneError) -> grpc.Status:
    """The rich gRPC status for a domain error."""
    code = STATUS_OF[error.code]
    proto = status_pb2.Status(
        code=getattr(code_pb2, code.name), message=error.message, details=_details(error)
    )
    return rpc_status.to_status(proto)


def internal_status(request_id: str) -> grpc.Status:
    """A generic INTERNAL status carrying only the request id."""
    proto = status_pb2.Status(
        code=code_pb2.INTERNAL, message=f"internal error (request id {request_id})"
    )
    return rpc_status.to_status(proto)


class _Status(
    collections.namedtuple("_Status", ("code", "details", "trailing_metadata")), grpc.Status
):
    """A status with the request id added to its trailing metadata."""


def abort(context: grpc.ServicerContext, status: grpc.Status, request_id: str) -> NoReturn:
    """Abort the call with ``status`` and the request id; typed NoReturn (it always raises)."""
    trailing = (*(status.trailing_metadata or ()), ("x-request-id", request_id))
    context.abort_with_status(_Status(status.code, status.details, trailing))
    raise AssertionError("unreachable: abort_with_status raises")  # pragma: no cover
