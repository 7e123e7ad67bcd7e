"""What the catalog knows of one served dataset version, and its table's SQL name."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from zone.catalog._fields import is_dataset_name
from zone.catalog.metadata import DatasetMeta
from zone.catalog.quality import QualityReport
from zone.errors import InvalidArgument


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset version as recorded in its version file.

    ``report`` is the import's quality report (for administrators); ``path`` the version file,
    which training workers open read-only.
    """

    name: str
    version: str  # "sha256:<64 hex>"
    row_count: int
    meta: DatasetMeta
    imported_at: str  # ISO-8601 UTC
    source_format: str  # "csv" | "parquet"
    report: QualityReport = field(compare=False, repr=False)
    path: Path = field(compare=False, repr=False)


def table_name(name: str) -> str:
    """The quoted table identifier of dataset ``name`` (validated, so safe to put in SQL)."""
    if not is_dataset_name(name):
        raise InvalidArgument("invalid dataset name")
    return f'"ds_{name}"'


def budget_key(info: DatasetInfo) -> str:
    """The privacy ledger's account name for this version: the dataset's, or its version's."""
    if info.meta.budget_scope == "version":
        return f"{info.name}@{info.version}"
    return info.name
