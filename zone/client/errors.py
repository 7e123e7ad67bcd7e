"""Typed exceptions for gRPC statuses returned by the zone."""

from __future__ import annotations

from typing import cast

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


class ZoneClientError(Exception):
    """A call to the zone failed; ``code`` is the gRPC status code."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self, message: str, *, request_id: str = "", details: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.details = details

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}"
        if self.request_id:
            text += f" [request {self.request_id}]"
        return text


class InvalidArgumentError(ZoneClientError):
    """The request is malformed or outside a declared bound."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(ZoneClientError):
    """The named object does not exist."""

    code = grpc.StatusCode.NOT_FOUND


class UnauthenticatedError(ZoneClientError):
    """Missing, bad or expired credentials."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDeniedError(ZoneClientError):
    """Authenticated, but not granted."""

    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhaustedError(ZoneClientError):
    """A budget, quota or capacity limit is reached."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPreconditionError(ZoneClientError):
    """The zone is not in a state that allows the operation."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class UnavailableError(ZoneClientError):
    """The zone is unreachable or shedding load; retry later."""

    code = grpc.StatusCode.UNAVAILABLE


class InternalError(ZoneClientError):
    """The zone failed internally; quote the request id to its operator."""

    code = grpc.StatusCode.INTERNAL


_BY_CODE: dict[grpc.StatusCode, type[ZoneClientError]] = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        UnauthenticatedError,
        PermissionDeniedError,
        ResourceExhaustedError,
        FailedPreconditionError,
        UnavailableError,
        InternalError,
    )
}


def _detail_lines(error: grpc.Call) -> tuple[str, ...]:
    status = rpc_status.from_call(error)
    if status is None:
        return ()
    lines: list[str] = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        pre = error_details_pb2.PreconditionFailure()
        quota = error_details_pb2.QuotaFailure()
        if detail.Unpack(bad):
            lines.extend(f"{v.field}: {v.description}" for v in bad.field_violations)
        elif detail.Unpack(pre):
            lines.extend(f"{v.subject}: {v.description}" for v in pre.violations)
        elif detail.Unpack(quota):
            lines.extend(f"{v.subject}: {v.description}" for v in quota.violations)
    return tuple(lines)


def from_rpc_error(error: grpc.RpcError) -> ZoneClientError:
    """Convert a grpc error into the matching typed exception."""
    if not hasattr(error, "code"):
        return ZoneClientError(str(error))
    call = cast(grpc.Call, error)
    request_id = ""
    for key, value in call.trailing_metadata() or ():
        if key == "x-request-id" and isinstance(value, str):
            request_id = value
    cls = _BY_CODE.get(call.code(), ZoneClientError)
    exc = cls(call.details() or "", request_id=request_id, details=_detail_lines(call))
    if cls is ZoneClientError:
        exc.code = call.code()
    return exc
