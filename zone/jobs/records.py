"""Rows of the ``jobs`` and ``models`` tables as frozen records, and their JSON columns.

``Job`` is what ``JobStore`` returns: plain values with the JSON columns
parsed and read-only, so a caller cannot change a job by mutating the object it was handed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from zone.audit import canonical_json
from zone.errors import InvalidArgument, NotFound
from zone.jobs.states import JobState
from zone.state.api import Tx

JOB_COLUMNS = (
    "job_id, principal, product, dataset, state, spec, release_id, touched_data, epoch, "
    "epsilon_spent, result, reason, created_at, started_at, finished_at, updated_at"
)

MAX_LIST = 1000
"""Most rows one list call returns."""


@dataclass(frozen=True)
class Job:
    """One job as stored; ``spec`` and ``result`` are parsed JSON objects (read-only)."""

    job_id: str
    principal: str
    product: str
    dataset: str
    state: JobState
    spec: Mapping[str, Any] = field(hash=False)
    release_id: str
    touched_data: bool
    epoch: int
    epsilon_spent: float
    result: Mapping[str, Any] | None = field(hash=False)
    reason: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    updated_at: str


def encode_object(value: Mapping[str, Any], what: str) -> str:
    """Return the canonical JSON text of a JSON object.

    Args:
        value: The object to store.
        what: Its name, for the error message.

    Returns:
        Canonical JSON (sorted keys, no NaN or infinities).

    Raises:
        InvalidArgument: ``value`` is not a mapping or not representable as JSON.
    """
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{what} must be a JSON object")
    try:
        return canonical_json(dict(value))
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidArgument(f"{what} is not representable as JSON") from exc


def check_progress(epoch: int, epsilon_spent: float) -> None:
    """Refuse a negative epoch or a negative or non-finite epsilon.

    Raises:
        InvalidArgument: Either value is out of range.
    """
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise InvalidArgument("epoch must be a non-negative integer")
    if not math.isfinite(epsilon_spent) or epsilon_spent < 0:
        raise InvalidArgument("epsilon_spent must be a finite non-negative number")


def job_from_row(row: tuple[Any, ...]) -> Job:
    """Build a ``Job`` from a row selected with ``JOB_COLUMNS``."""
    (
        job_id,
        principal,
        product,
        dataset,
        state,
        spec,
        release_id,
        touched,
        epoch,
        eps,
        result,
        reason,
        created_at,
        started_at,
        finished_at,
        updated_at,
    ) = row
    return Job(
        job_id=str(job_id),
        principal=str(principal),
        product=str(product),
        dataset=str(dataset),
        state=JobState(state),
        spec=frozen_json(spec),
        release_id=str(release_id),
        touched_data=bool(touched),
        epoch=int(epoch),
        epsilon_spent=float(eps),
        result=None if result is None else frozen_json(result),
        reason=str(reason),
        created_at=str(created_at),
        started_at=None if started_at is None else str(started_at),
        finished_at=None if finished_at is None else str(finished_at),
        updated_at=str(updated_at),
    )


def select_job(conn: Tx, job_id: str) -> Job:
    """Read one job on ``conn``; raises ``NotFound`` for an unknown id."""
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    if row is None:
        raise NotFound("no such job")
    return job_from_row(row)


def lock_job(conn: Tx, job_id: str) -> Job:
    """Read one job on a write transaction ``conn``, holding its row until ``conn`` ends.

    A no-op UPDATE takes the row lock on PostgreSQL (SQLite's write transaction holds the
    whole database already), so a concurrent ``JobStore.confirm_touched`` waits, then sees
    what this transaction did: a settlement decided on the job read here stays right.

    Raises:
        NotFound: No such job.
    """
    conn.execute("UPDATE jobs SET updated_at = updated_at WHERE job_id = ?", (job_id,))
    return select_job(conn, job_id)


def job_record(job: Job) -> dict[str, Any]:
    """The fields of ``job`` that its audit records carry."""
    return {
        "job_id": job.job_id,
        "principal": job.principal,
        "product": job.product,
        "dataset": job.dataset,
        "state": job.state.value,
        "release_id": job.release_id,
        "touched_data": job.touched_data,
    }


def check_limit(limit: int) -> None:
    """Refuse a page size outside 1 to ``MAX_LIST`` with ``InvalidArgument``."""
    if not 1 <= limit <= MAX_LIST:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIST}")


def frozen_json(text: str) -> Mapping[str, Any]:
    """A stored JSON object as a read-only mapping."""
    parsed: dict[str, Any] = json.loads(text)
    return MappingProxyType(parsed)
