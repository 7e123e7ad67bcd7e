"""Domain errors shared by every core package.

Core packages raise these; the server's error catalog (``zone.server.errors``) is the only place
that maps them to gRPC status codes. Messages are public: they must never carry internal detail
(paths, SQL, stack traces, values of sensitive columns).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class ErrorCode(enum.Enum):
    """Categories of failure, each mapped to one gRPC status by the server."""

    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    UNAUTHENTICATED = "unauthenticated"
    PERMISSION_DENIED = "permission_denied"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    FAILED_PRECONDITION = "failed_precondition"
    UNAVAILABLE = "unavailable"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    INTERNAL = "internal"


@dataclass(frozen=True)
class Problem:
    """One validation problem, located in a source file where possible."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.message}"


class ZoneError(Exception):
    """Base of every expected error. ``reason`` is a stable machine-readable code."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.code.value


class InvalidArgument(ZoneError):
    """The request or input is malformed or violates a declared bound."""

    code = ErrorCode.INVALID_ARGUMENT


class NotFound(ZoneError):
    """The named object does not exist (or is not visible to the caller)."""

    code = ErrorCode.NOT_FOUND


class AlreadyExists(ZoneError):
    """The object to create exists already."""

    code = ErrorCode.ALREADY_EXISTS


class Unauthenticated(ZoneError):
    """No valid credential was presented."""

    code = ErrorCode.UNAUTHENTICATED


class PermissionDenied(ZoneError):
    """The caller is authenticated but not allowed to do this."""

    code = ErrorCode.PERMISSION_DENIED


class ResourceExhausted(ZoneError):
    """A budget, quota or capacity limit is reached.

    ``violations`` are (subject, description) pairs, sent as a google.rpc.QuotaFailure detail.
    """

    code = ErrorCode.RESOURCE_EXHAUSTED
    violations: tuple[tuple[str, str], ...] = ()


class FailedPrecondition(ZoneError):
    """The system is not in a state that allows the operation."""

    code = ErrorCode.FAILED_PRECONDITION


class Unavailable(ZoneError):
    """The zone or a dependency is temporarily unavailable; retrying later may succeed.

    ``retry_after_seconds`` is sent to the caller as a google.rpc.RetryInfo detail.
    """

    code = ErrorCode.UNAVAILABLE

    def __init__(self, message: str, *, reason: str = "", retry_after_seconds: float = 1.0) -> None:
        super().__init__(message, reason=reason)
        self.retry_after_seconds = retry_after_seconds


class DeadlineExceeded(ZoneError):
    """The caller's deadline passed before the work started; nothing was done."""

    code = ErrorCode.DEADLINE_EXCEEDED


class ValidationFailed(InvalidArgument):
    """A document (YAML, metadata, CSV) failed validation; carries every problem found."""

    def __init__(
        self, problems: Sequence[Problem], *, what: str = "validation", hint: str = ""
    ) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        text = f"{what} failed with {len(self.problems)} problem(s):\n{lines}"
        super().__init__(f"{text}\n{hint}" if hint else text)
