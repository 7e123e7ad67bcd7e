"""The quality report of an import: what every column's values did against the metadata.

An import checks every value against its column's declaration, in this order (the first
failing check names the violation, so each violating value is counted exactly once):

1. ``type``: present but not exactly of the declared type (``1.5`` in an integer column, a time
   in a date column, a non-finite float, text that does not parse);
2. ``control`` (strings): a control character: C0 (NUL included) except tab, line feed and
   carriage return, DEL, or C1; in the entity key every control character, those three included;
3. ``length`` (strings): longer than the column's ``max_length``;
4. ``domain``: outside the declared domain;
5. ``bounds``: outside the declared bounds.

The entity key adds ``missing`` (NULL or blank) and ``duplicate`` (rows repeating a key of
another row). ``on_violation`` decides the outcome per column (``refuse``, ``null``, ``clamp``;
see ``zone.catalog.metadata``); the entity key always refuses.

The report holds counts only: per column the rows, the NULLs in the source, the violations by
kind and, for columns with a domain, how many distinct values outside it were found. Never a
value, never a row number: it is shown to administrators and its digest goes into the audit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zone.catalog.metadata import ColumnMeta, DatasetMeta

REPORT_FORMAT = "zone.quality.v1"
VIOLATION_KINDS = ("type", "control", "length", "domain", "bounds")
"""Value checks in the order they apply; a value is counted under the first that fails."""
KEY_KINDS = ("missing", "duplicate")


def checked_kinds(name: str, column: ColumnMeta, meta: DatasetMeta) -> tuple[str, ...]:
    """The violation kinds that apply to column ``name`` (in check order)."""
    kinds = []
    if column.type != "string":
        kinds.append("type")
    if column.type == "string":
        kinds += ["control", "length"]
    if column.domain is not None:
        kinds.append("domain")
    if column.bounds is not None:
        kinds.append("bounds")
    if name == meta.entity_key:
        kinds += list(KEY_KINDS)
    return tuple(kinds)


def refusing_kinds(name: str, column: ColumnMeta, meta: DatasetMeta) -> frozenset[str]:
    """Kinds whose violations refuse the import under the column's ``on_violation``."""
    kinds = frozenset(checked_kinds(name, column, meta))
    if name == meta.entity_key or column.on_violation == "refuse":
        return kinds
    if column.on_violation == "clamp":
        return kinds - {"bounds"}
    return frozenset()


@dataclass(frozen=True)
class ColumnQuality:
    """Counts for one column.

    Attributes:
        name: The column.
        type: Its declared type.
        on_violation: What a violation does: ``refuse``, ``null`` or ``clamp``.
        rows: Rows in the source.
        nulls: Values missing (NULL or empty) in the source.
        violations: Violating values per kind (every kind that applies, zeros included).
        unlisted_values: Distinct values outside the declared domain (None without a domain).
    """

    name: str
    type: str
    on_violation: str
    rows: int
    nulls: int
    violations: Mapping[str, int]
    unlisted_values: int | None

    @property
    def violating(self) -> int:
        """Violations of every kind."""
        return sum(self.violations.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (canonical key order is applied by the report)."""
        return {
            "name": self.name,
            "type": self.type,
            "on_violation": self.on_violation,
            "rows": self.rows,
            "nulls": self.nulls,
            "violations": dict(self.violations),
            "unlisted_values": self.unlisted_values,
        }


@dataclass(frozen=True)
class QualityReport:
    """The report of one import (accepted or refused)."""

    dataset: str
    source_format: str
    rows: int
    columns: tuple[ColumnQuality, ...]
    refused_columns: tuple[str, ...]

    @property
    def accepted(self) -> bool:
        """Whether no violation refused the import."""
        return not self.refused_columns

    def column(self, name: str) -> ColumnQuality:
        """The counts of column ``name``."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no whitespace): the form stored and digested."""
        doc = {
            "format": REPORT_FORMAT,
            "dataset": self.dataset,
            "source_format": self.source_format,
            "rows": self.rows,
            "outcome": "accepted" if self.accepted else "refused",
            "refused_columns": list(self.refused_columns),
            "columns": [column.to_dict() for column in self.columns],
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @property
    def digest(self) -> str:
        """``sha256:`` over the canonical JSON."""
        return "sha256:" + hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> QualityReport:
        """Parse what :meth:`to_json` wrote.

        Raises:
            ValueError: not a report of this format.
        """
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != REPORT_FORMAT:
            raise ValueError("not a quality report")
        columns = tuple(
            ColumnQuality(
                name=str(c["name"]),
                type=str(c["type"]),
                on_violation=str(c["on_violation"]),
                rows=int(c["rows"]),
                nulls=int(c["nulls"]),
                violations={str(k): int(v) for k, v in c["violations"].items()},
                unlisted_values=None if c["unlisted_values"] is None else int(c["unlisted_values"]),
            )
            for c in doc["columns"]
        )
        return cls(
            dataset=str(doc["dataset"]),
            source_format=str(doc["source_format"]),
            rows=int(doc["rows"]),
            columns=columns,
            refused_columns=tuple(str(n) for n in doc["refused_columns"]),
        )

    def to_text(self) -> str:
        """A table for the administrator's terminal."""
        outcome = "accepted" if self.accepted else "REFUSED"
        lines = [f"quality report: {self.dataset} ({self.source_format}, {self.rows:,} rows): "
                 f"{outcome}"]  # fmt: skip
        header = ("column", "type", "policy", "nulls", "violations", "unlisted", "outcome")
        rows = [header] + [self._row(column) for column in self.columns]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                  for row in rows]  # fmt: skip
        lines.append(f"digest {self.digest}")
        return "\n".join(lines)

    def _row(self, column: ColumnQuality) -> tuple[str, ...]:
        found = ", ".join(f"{kind} {n:,}" for kind, n in column.violations.items() if n) or "-"
        unlisted = "-" if column.unlisted_values is None else f"{column.unlisted_values:,}"
        if column.name in self.refused_columns:
            result = "refused"
        elif column.violating:
            result = "nulled" if column.on_violation == "null" else "clamped"
        else:
            result = "ok"
        return (column.name, column.type, column.on_violation, f"{column.nulls:,}", found,
                unlisted, result)  # fmt: skip
