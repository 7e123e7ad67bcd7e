"""The error catalog: the one place that maps domain errors to gRPC statuses.

Every :class:`~zone.errors.ZoneError` carries a public message and a code; it becomes a gRPC
status with that message and, where useful, a rich detail (google.rpc.BadRequest for validation
problems, PreconditionFailure for a rejected policy set, QuotaFailure for an exhausted budget
or quota, RetryInfo saying when to retry an UNAVAILABLE call). Any other exception becomes
INTERNAL with a generic message and the request id, which also appears in the server log and
the audit chain; internal detail never reaches the caller.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from zone.errors import (
    ErrorCode,
    FailedPrecondition,
    Problem,
    ResourceExhausted,
    Unavailable,
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
    ErrorCode.DEADLINE_EXCEEDED: grpc.StatusCode.DEADLINE_EXCEEDED,
    ErrorCode.INTERNAL: grpc.StatusCode.INTERNAL,
}

# A status travels in trailing metadata, which grpcio clients refuse above 8 KiB by default
# (soft limit; 16 KiB hard): a message echoing a caller's 100 KB value made the caller see
# RESOURCE_EXHAUSTED "Stream removed" instead of the error. Messages and details are clipped
# so that a whole status stays below that (the message is percent-encoded, details base64).
MAX_MESSAGE_BYTES = 1000
MAX_TEXT_BYTES = 200
MAX_DETAILS_BYTES = 3000
_CLIPPED = " ...(clipped)"


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, marked when cut."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - len(_CLIPPED)].decode("utf-8", "ignore") + _CLIPPED


def _where(problem: Problem) -> str:
    return f"{problem.source}:{problem.line}" if problem.line else problem.source


def _violations(problems: Sequence[Problem]) -> list[tuple[str, str]]:
    """(where, message) pairs, clipped, as many as fit in ``MAX_DETAILS_BYTES``."""
    pairs: list[tuple[str, str]] = []
    used = 0
    for index, problem in enumerate(problems):
        pair = (clip(_where(problem), MAX_TEXT_BYTES), clip(problem.message, MAX_TEXT_BYTES))
        used += len(pair[0].encode()) + len(pair[1].encode()) + 8
        if used > MAX_DETAILS_BYTES - MAX_TEXT_BYTES:
            pairs.append(("", f"... and {len(problems) - index} more problem(s)"))
            break
        pairs.append(pair)
    return pairs


def _retry_info(error: Unavailable) -> list[any_pb2.Any]:
    packed = any_pb2.Any()
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(int(error.retry_after_seconds * 1e9))
    packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    return [packed]


def _details(error: ZoneError) -> list[any_pb2.Any]:
    if isinstance(error, Unavailable):
        return _retry_info(error)
    if isinstance(error, ResourceExhausted) and error.violations:
        packed = any_pb2.Any()
        packed.Pack(
            error_details_pb2.QuotaFailure(
                violations=[
                    error_details_pb2.QuotaFailure.Violation(
                        subject=clip(s, MAX_TEXT_BYTES), description=clip(d, MAX_TEXT_BYTES)
                    )
                    for s, d in error.violations[:10]
                ]
            )
        )
        return [packed]
    if not isinstance(error, ValidationFailed):
        return []
    violations = _violations(error.problems)
    packed = any_pb2.Any()
    if isinstance(error, FailedPrecondition):
        packed.Pack(
            error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(
                        type="policy", subject=where, description=message
                    )
                    for where, message in violations
                ]
            )
        )
    else:
        packed.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=where, description=message)
                    for where, message in violations
                ]
            )
        )
    return [packed]


def status_for(error: ZoneError) -> grpc.Status:
    """The rich gRPC status for a domain error (message and details clipped, see above)."""
    code = STATUS_OF[error.code]
    proto = status_pb2.Status(
        code=getattr(code_pb2, code.name),
        message=clip(error.message, MAX_MESSAGE_BYTES),
        details=_details(error),
    )
    return rpc_status.to_status(proto)


def internal_status(request_id: str) -> grpc.Status:
    """A generic INTERNAL status carrying only the request id."""
    proto = status_pb2.Status(
        code=code_pb2.INTERNAL, message=f"internal error (request id {request_id})"
    )
    return rpc_status.to_status(proto)


def ended_status(code: grpc.StatusCode) -> grpc.Status:
    """The status of a call that ended before its reply (CANCELLED or DEADLINE_EXCEEDED)."""
    proto = status_pb2.Status(code=getattr(code_pb2, code.name), message="call ended")
    return rpc_status.to_status(proto)


class _Status(
    collections.namedtuple("_Status", ("code", "details", "trailing_metadata")), grpc.Status
):
    """A status with the request id added to its trailing metadata."""


def abort(
    context: grpc.ServicerContext,
    status: grpc.Status,
    request_id: str,
    extra: tuple[tuple[str, str | bytes], ...] = (),
) -> NoReturn:
    """Abort the call with ``status``, the request id and ``extra`` trailing metadata.

    Typed NoReturn: it always raises.
    """
    trailing = (*(status.trailing_metadata or ()), ("x-request-id", request_id), *extra)
    context.abort_with_status(_Status(status.code, status.details, trailing))
    raise AssertionError("unreachable: abort_with_status raises")  # pragma: no cover
