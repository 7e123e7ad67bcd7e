"""Upload records in the state database (``cohorts``, migration 0012), each change audited.

A record holds what the zone may keep about an upload for good: owner, product, dataset
version, declared schema (names, bounds, domains, purpose), the SHA-256 of the uploaded bytes,
rows and size, the times, and after erasure the erasure receipt's id and audit position. Never a
value: the values are in the cohort file only. Every lookup for a caller is by upload id *and*
owner: another principal's id answers exactly like an unknown one.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from zone.access import refuse_exited
from zone.audit import AuditChain, AuditEntry, utc_timestamp
from zone.errors import NotFound
from zone.jobs.records import check_limit
from zone.products.joint.schema import CohortSchema, parse_schema
from zone.state.api import State, Tx

_COLUMNS = (
    "upload_id, owner, product, dataset, dataset_version, schema, digest, rows, size_bytes, "
    "file, state, created_at, expires_at, erased_at, erasure_id, erasure_seq, erase_trigger"
)
STORED = "stored"
ERASED = "erased"


@dataclass(frozen=True)
class CohortInfo:
    """One upload record (no values)."""

    upload_id: str
    owner: str
    product: str
    dataset: str
    dataset_version: str
    schema: CohortSchema
    digest: str
    rows: int
    size_bytes: int
    file: str
    state: str
    created_at: str
    expires_at: str
    erased_at: str | None = None
    erasure_id: str | None = None
    erasure_seq: int | None = None
    erase_trigger: str | None = None

    def record(self) -> dict[str, Any]:
        """The fields its audit records carry (digests and counts, never values)."""
        return {
            "upload_id": self.upload_id,
            "principal": self.owner,
            "product": self.product,
            "dataset": self.dataset,
            "dataset_version": self.dataset_version,
            "upload_digest": self.digest,
            "rows": self.rows,
            "size_bytes": self.size_bytes,
            "features": [f.name for f in self.schema.features],
            "purpose": self.schema.purpose,
        }


def _from_row(row: tuple[Any, ...]) -> CohortInfo:
    schema, problems = parse_schema(json.loads(row[5]))
    if schema is None:  # pragma: no cover - stored schemas were parsed before storing
        raise ValueError(f"stored cohort schema is invalid: {problems}")
    values = list(row)
    values[5] = schema
    return CohortInfo(*values)


def expiry(created_at: str, retention_hours: float) -> str:
    """The time ``retention_hours`` after ``created_at`` (both ISO-8601 UTC)."""
    end = datetime.fromisoformat(created_at) + timedelta(hours=retention_hours)
    return end.isoformat(timespec="microseconds")


def now_utc() -> datetime:
    """The current time (UTC)."""
    return datetime.now(UTC)


class CohortStore:
    """Insert, read and mark upload records (the ``cohorts`` table)."""

    def __init__(self, state: State, audit: AuditChain) -> None:
        self._state = state
        self._audit = audit

    def insert(self, info: CohortInfo, request_id: str) -> None:
        """Record a stored upload with its ``cohort.upload`` audit record, durably.

        Raises:
            PermissionDenied: the owner has exited (or is exiting) the zone.
        """
        with self._state.write() as tx:
            refuse_exited(tx, info.owner)
            tx.execute(
                f"INSERT INTO cohorts ({_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL)",
                (
                    info.upload_id,
                    info.owner,
                    info.product,
                    info.dataset,
                    info.dataset_version,
                    json.dumps(info.schema.to_dict(), sort_keys=True),
                    info.digest,
                    info.rows,
                    info.size_bytes,
                    info.file,
                    STORED,
                    info.created_at,
                    info.expires_at,
                ),
            )
            record = {**info.record(), "request_id": request_id, "expires_at": info.expires_at}
            self._audit.append("cohort.upload", record, conn=tx)

    def get(self, upload_id: str, owner: str | None = None) -> CohortInfo:
        """The record of ``upload_id`` (owned by ``owner`` when given).

        Raises:
            NotFound: no such upload (or not the owner's: the same answer).
        """
        with self._state.read() as tx:
            row = tx.execute(
                f"SELECT {_COLUMNS} FROM cohorts WHERE upload_id = ?", (upload_id,)
            ).fetchone()
        if row is None or (owner is not None and row[1] != owner):
            raise NotFound("no such cohort", reason="unknown_cohort")
        return _from_row(row)

    def list(self, owner: str, limit: int) -> list[CohortInfo]:
        """The owner's uploads, newest first."""
        check_limit(limit)
        with self._state.read() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM cohorts WHERE owner = ? ORDER BY created_at DESC LIMIT ?",
                (owner, limit),
            ).fetchall()
        return [_from_row(r) for r in rows]

    def stored(self) -> builtins.list[CohortInfo]:
        """Every upload not yet erased."""
        with self._state.read() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM cohorts WHERE state = ? ORDER BY expires_at", (STORED,)
            ).fetchall()
        return [_from_row(r) for r in rows]

    def known_files(self) -> set[str]:
        """File names of every upload record (stored or erased)."""
        with self._state.read() as tx:
            return {str(r[0]) for r in tx.execute("SELECT file FROM cohorts")}

    def mark_erased(
        self, info: CohortInfo, receipt: dict[str, Any], trigger: str, *, tx: Tx
    ) -> AuditEntry | None:
        """Append the erasure receipt and mark the record erased; None if already erased."""
        erased_at = str(receipt["erased_at"])
        changed = tx.execute(
            "UPDATE cohorts SET state = ?, erased_at = ?, erasure_id = ?, erase_trigger = ? "
            "WHERE upload_id = ? AND state = ?",
            (ERASED, erased_at, receipt["release_id"], trigger, info.upload_id, STORED),
        ).rowcount
        if changed != 1:
            return None
        entry = self._audit.append("release", receipt, conn=tx)
        tx.execute(
            "UPDATE cohorts SET erasure_seq = ? WHERE upload_id = ?", (entry.seq, info.upload_id)
        )
        return entry

    def begin_erasure(self, upload_id: str) -> None:
        """Mark the cohort as being erased, durably: no replica can claim it for a job now.

        Committed before the erasure looks for jobs reading the cohort, so a job claimed on
        any replica is either seen (and cancelled) or refused (``claim_for_job``).
        """
        with self._state.write() as tx:
            tx.execute(
                "UPDATE cohorts SET erasing_at = ? WHERE upload_id = ? AND state = ? "
                "AND erasing_at IS NULL",
                (utc_timestamp(), upload_id, STORED),
            )

    def stalled_erasures(self, marked_before: str) -> builtins.list[CohortInfo]:
        """Cohorts still stored whose erasure began before ``marked_before`` and never ended."""
        with self._state.read() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM cohorts WHERE state = ? AND erasing_at IS NOT NULL "
                "AND erasing_at <= ? ORDER BY erasing_at",
                (STORED, marked_before),
            ).fetchall()
        return [_from_row(r) for r in rows]

    def claim_for_job(self, upload_id: str, owner: str, job_id: str, *, tx: Tx) -> bool:
        """Make ``job_id`` the cohort's job, if it is stored, not being erased, and unread."""
        changed = tx.execute(
            "UPDATE cohorts SET job_id = ? WHERE upload_id = ? AND owner = ? AND state = ? AND "
            "erasing_at IS NULL AND (job_id IS NULL OR job_id IN (SELECT job_id FROM jobs "
            "WHERE state IN ('succeeded', 'failed', 'cancelled')))",
            (job_id, upload_id, owner, STORED),
        ).rowcount
        return changed == 1

    def job_of(self, upload_id: str) -> str | None:
        """The latest job that read (or reads) the cohort."""
        with self._state.read() as tx:
            row = tx.execute("SELECT job_id FROM cohorts WHERE upload_id = ?", (upload_id,))
            found = row.fetchone()
        return None if found is None or found[0] is None else str(found[0])

    def erasure_entry(self, erasure_id: str) -> tuple[str, int] | None:
        """(owner, audit seq) of an erasure receipt, for receipt bundles; None if unknown."""
        with self._state.read() as tx:
            row = tx.execute(
                "SELECT owner, erasure_seq FROM cohorts WHERE erasure_id = ? "
                "AND erasure_seq IS NOT NULL",
                (erasure_id,),
            ).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))


def timestamp() -> str:
    """The current time as the zone writes it (ISO-8601 UTC, microseconds)."""
    return utc_timestamp()
