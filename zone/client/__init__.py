"""Python SDK for operators, researchers and administrators of a zone."""

from zone.client.client import TlsOptions, ZoneClient
from zone.client.errors import (
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
    ZoneClientError,
)

__all__ = [
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "TlsOptions",
    "UnauthenticatedError",
    "UnavailableError",
    "ZoneClient",
    "ZoneClientError",
]
