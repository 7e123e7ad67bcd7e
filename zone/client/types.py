"""Typed results returned by :class:`zone.client.ZoneClient`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class DatasetSummary:
    """A dataset the caller may use (row count rounded to a public granularity)."""

    name: str
    description: str
    provider: str
    version: str
    approx_row_count: int
    row_count_granularity: int
    open_level: str = ""  # open | conditional | authorized_operation | closed ("" undeclared)


@dataclass(frozen=True)
class Column:
    """One column's public metadata. Bounds and domain are withheld for L4 columns."""

    name: str
    type: str
    classification: str
    description: str
    bounds: tuple[float, float] | None
    domain: tuple[str, ...]


@dataclass(frozen=True)
class DatasetDescription:
    """Schema and public metadata of a dataset."""

    summary: DatasetSummary
    entity_key: str
    columns: tuple[Column, ...]
    products: tuple[str, ...]
    quality_report_json: str = ""  # admins only: the import's quality report (JSON, counts)
    open_data: OpenData | None = None


@dataclass(frozen=True)
class OpenData:
    """Open-data catalog fields (开放目录) and the asset registration record (数据资产登记)."""

    open_level: str
    open_mode: str
    responsible_provider: str
    registration_id: str
    registered_on: str
    certificate_digest: str

    @classmethod
    def of(cls, message: Any) -> OpenData:
        """From the ``OpenData`` message (same field names)."""
        return cls(*(getattr(message, f.name) for f in fields(cls)))


@dataclass(frozen=True)
class ProductSummary:
    """An approved product."""

    id: str
    kind: str
    dataset: str
    description: str


@dataclass(frozen=True)
class GrantTerms:
    """The caller's own terms for a product."""

    budget: dict[str, tuple[float, float]]
    per_job_epsilon: float
    calls_per_day: int
    price_per_call: float
    currency: str
    purpose: str
    valid_from: str
    valid_until: str


@dataclass(frozen=True)
class ProductDescription:
    """Approved parameters of a product, with the caller's grant (None for admins without one)."""

    summary: ProductSummary
    columns: tuple[str, ...]
    parameters: dict[str, Any] = field(default_factory=dict)
    grant: GrantTerms | None = None


@dataclass(frozen=True)
class PolicyReload:
    """Outcome of a successful policy reload."""

    policy_digest: str
    previous_digest: str
    principals: int
    grants: int
    products: int = 0
    dataset_versions: Mapping[str, str] = field(default_factory=dict)
    serving_digest: str = ""


@dataclass(frozen=True)
class DatasetActivation:
    """Outcome of activating a dataset version on a running zone."""

    name: str
    version: str
    previous_version: str
    report_digest: str
    policy_digest: str


@dataclass(frozen=True)
class AuditVerification:
    """Outcome of an audit chain verification."""

    ok: bool
    length: int
    head_hash: str
    first_bad_seq: int
    reason: str
