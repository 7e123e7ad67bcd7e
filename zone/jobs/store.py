"""Jobs and trained models in the state database, every state change audited with it.

``JobStore`` owns the ``jobs`` and ``models`` tables (migration ``0003_jobs``). Guarantees:

* A job's state moves only along ``TRANSITIONS``, through one conditional
  ``UPDATE ... WHERE job_id = ? AND state = ?`` whose expected state was read in the same
  ``BEGIN IMMEDIATE`` transaction: of two concurrent moves out of one state, exactly one wins
  and the other gets ``IllegalTransition``.
* Every creation, transition and touched-data mark commits together with its
  audit-chain record, durably (``synchronous=FULL``): both or neither.
* ``create`` and ``transition`` accept the connection of a caller's open ``store.write()``, so
  a budget reservation and the job that spends it can commit (or roll back) as one.
* Progress reports (epoch, epsilon spent so far) are informational: they are written with
  ``durable=False`` and not audited, so the newest may be lost in an OS crash.
* Every move, touched mark and progress report is announced on ``CHANNEL`` at its commit
  (PostgreSQL NOTIFY; nothing on SQLite), so replicas serving ``WatchJob`` for a job that runs
  on another machine wake at once instead of at their next poll.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from typing import Any

from zone.audit import AuditChain, utc_timestamp
from zone.jobs.records import (
    JOB_COLUMNS,
    Job,
    check_limit,
    check_progress,
    encode_object,
    job_from_row,
    job_record,
    select_job,
)
from zone.jobs.states import TERMINAL, IllegalTransition, JobState, is_valid_transition
from zone.state.api import State, Tx

CHANNEL = "zone_jobs"
"""Where job changes are announced (``State.announce``)."""


class JobStore:
    """Create, move and read jobs.

    Args:
        store: The state database.
        audit: The audit chain in that database.
    """

    def __init__(self, store: State, audit: AuditChain) -> None:
        self._store = store
        self._audit = audit

    def create(
        self,
        *,
        principal: str,
        product: str,
        dataset: str,
        spec: Mapping[str, Any],
        release_id: str,
        conn: Tx | None = None,
    ) -> Job:
        """Record a new ``queued`` job and its ``job.created`` audit record.

        Args:
            principal: Who asked for the job.
            product: The approved product it runs.
            dataset: The dataset the product reads.
            spec: The validated job parameters (a JSON object).
            release_id: The ledger reservation paying for the job ('' when none).
            conn: The caller's open write connection: the job then commits (or rolls back)
                with the caller's transaction. Without it, one durable transaction of its own.

        Returns:
            The new job (id: a random UUID4 in hex).

        Raises:
            InvalidArgument: ``spec`` is not a JSON object.
        """
        spec_json = encode_object(spec, "job spec")
        job_id = uuid.uuid4().hex
        now = utc_timestamp()
        with self._store.joined(conn) as w:
            w.execute(
                "INSERT INTO jobs (job_id, principal, product, dataset, state, spec, release_id, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    principal,
                    product,
                    dataset,
                    JobState.QUEUED.value,
                    spec_json,
                    release_id,
                    now,
                    now,
                ),
            )
            job = select_job(w, job_id)
            record = {**job_record(job), "spec": dict(job.spec)}
            self._audit.append("job.created", record, conn=w)
        return job

    def transition(
        self,
        job_id: str,
        to: JobState,
        *,
        reason: str = "",
        result: Mapping[str, Any] | None = None,
        touched_data: bool | None = None,
        conn: Tx | None = None,
    ) -> Job:
        """Move a job to state ``to``, with its ``job.transition`` audit record, durably.

        Sets ``started_at`` on entering ``running`` and ``finished_at`` on entering a terminal
        state. ``touched_data=True`` marks the job as having read data (never undone;
        ``False`` changes nothing). A non-empty ``reason`` and a ``result`` replace the stored
        ones.

        Args:
            job_id: The job.
            to: The state to move to.
            reason: Why (public text, e.g. the worker's error reason).
            result: The job's result (a JSON object), usually with ``succeeded``.
            touched_data: Whether the worker may have read data.
            conn: The caller's open write connection, to commit with the caller.

        Returns:
            The job after the move.

        Raises:
            NotFound: No such job.
            IllegalTransition: ``(current state, to)`` is not in ``TRANSITIONS``.
            InvalidArgument: ``result`` is not a JSON object.
        """
        result_json = None if result is None else encode_object(result, "job result")
        with self._store.joined(conn) as w:
            current = _move(w, job_id, to, reason, result_json, bool(touched_data))
            job = select_job(w, job_id)
            record = {**job_record(job), "from": current.value, "reason": job.reason}
            self._audit.append("job.transition", record, conn=w)
            self._store.announce(w, CHANNEL)
        return job

    def mark_touched(self, job_id: str) -> Job:
        """Record, durably and audited (``job.touched``), that the job may have read data.

        Call it before the worker reads any data: a job marked touched never gets its budget
        refunded. Idempotent (a job already marked is returned unchanged, no new record);
        allowed in every state, because a cancelled worker may have read data before it died.

        Raises:
            NotFound: No such job.
        """
        with self._store.write() as w:
            job = select_job(w, job_id)
            if job.touched_data:
                return job
            w.execute(
                "UPDATE jobs SET touched_data = 1, updated_at = ? WHERE job_id = ?",
                (utc_timestamp(), job_id),
            )
            job = select_job(w, job_id)
            self._audit.append("job.touched", job_record(job), conn=w)
            self._store.announce(w, CHANNEL)
        return job

    def confirm_touched(self, job_id: str) -> bool:
        """Mark a RUNNING job as having read data, durably, before its worker reads any.

        The worker reads nothing unless this returns True. The conditional UPDATE waits for
        the row lock of a settlement in progress (``lock_job``) and then sees its outcome, so
        a job that a reaper or a cancellation is ending is either marked first (and charged)
        or ended first (and refused here: its worker must not read). Idempotent.

        Returns:
            True if the job is RUNNING and now marked; False if it is not running (queued,
            or ended: nothing may be read for it).

        Raises:
            NotFound: No such job.
        """
        with self._store.write() as w:
            updated = w.execute(
                "UPDATE jobs SET touched_data = 1, updated_at = ? "
                "WHERE job_id = ? AND state = ? AND touched_data = 0",
                (utc_timestamp(), job_id, JobState.RUNNING.value),
            ).rowcount
            job = select_job(w, job_id)
            if updated == 1:
                self._audit.append("job.touched", job_record(job), conn=w)
                self._store.announce(w, CHANNEL)
        return job.state is JobState.RUNNING and job.touched_data

    def progress(self, job_id: str, epoch: int, epsilon_spent: float) -> bool:
        """Record a running job's progress (informational: not fsynced, not audited).

        Written with ``store.write(durable=False)``: the newest reports can be lost in an OS
        crash. The privacy guarantee never rests on these numbers (the ledger holds the charge).

        Args:
            job_id: The job.
            epoch: Epochs completed.
            epsilon_spent: Epsilon spent so far, by the accountant of the worker.

        Returns:
            True if stored; False when the job is no longer running (a late report).

        Raises:
            NotFound: No such job.
            InvalidArgument: A value is negative or not finite.
        """
        check_progress(epoch, epsilon_spent)
        with self._store.write(durable=False) as w:
            updated = w.execute(
                "UPDATE jobs SET epoch = ?, epsilon_spent = ?, updated_at = ? "
                "WHERE job_id = ? AND state = ?",
                (epoch, float(epsilon_spent), utc_timestamp(), job_id, JobState.RUNNING.value),
            ).rowcount
            if updated == 0:
                select_job(w, job_id)  # NotFound for an unknown job
            self._store.announce(w, CHANNEL)
        return updated == 1

    def get(self, job_id: str) -> Job:
        """Return one job.

        Raises:
            NotFound: No such job.
        """
        with self._store.read() as r:
            return select_job(r, job_id)

    def list(self, principal: str | None = None, limit: int = 100) -> builtins.list[Job]:
        """Return jobs, newest first, of one principal (or of everyone with ``None``).

        Raises:
            InvalidArgument: ``limit`` is not between 1 and 1000.
        """
        check_limit(limit)
        where, params = ("", ()) if principal is None else ("WHERE principal = ? ", (principal,))
        with self._store.read() as r:
            rows = r.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs {where}"
                "ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [job_from_row(row) for row in rows]

    def running(self, owner: str | None = None) -> builtins.list[Job]:
        """Return every unfinished job (``running`` or ``queued``), oldest first.

        Args:
            owner: Only the jobs of this replica (see ``zone.state.owners``); None: all.
        """
        where = "" if owner is None else " AND owner = ?"
        with self._store.read() as r:
            rows = r.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('queued', 'running'){where} "
                "ORDER BY created_at, rowid",
                () if owner is None else (owner,),
            ).fetchall()
        return [job_from_row(row) for row in rows]

    def dataset_versions_in_use(self) -> set[str]:
        """The dataset versions unfinished jobs read (their files must stay on disk)."""
        return {str(job.spec.get("dataset_version", "")) for job in self.running()} - {""}


def _move(
    tx: Tx, job_id: str, to: JobState, reason: str, result_json: str | None, touched: bool
) -> JobState:
    """Move the job out of the state read in ``tx``; return that state.

    The UPDATE is conditional on the state just read. Under SQLite's write lock nobody can
    move the job in between; on PostgreSQL (READ COMMITTED) a concurrent move can commit
    between the read and the UPDATE, which then changes nothing: read the new state and
    decide again, as if this transaction had started after the other one.
    """
    while True:
        current = select_job(tx, job_id).state
        if not is_valid_transition(current, to):
            raise IllegalTransition(current, to)
        now = utc_timestamp()
        updated = tx.execute(
            "UPDATE jobs SET state = ?, updated_at = ?, "
            "reason = CASE WHEN ? = '' THEN reason ELSE ? END, "
            "result = COALESCE(?, result), "
            "touched_data = CASE WHEN ? = 1 THEN 1 ELSE touched_data END, "
            "started_at = CASE WHEN ? THEN ? ELSE started_at END, "
            "finished_at = CASE WHEN ? THEN ? ELSE finished_at END "
            "WHERE job_id = ? AND state = ?",
            (
                to.value,
                now,
                reason,
                reason,
                result_json,
                int(touched),
                to is JobState.RUNNING,
                now,
                to in TERMINAL,
                now,
                job_id,
                current.value,
            ),
        ).rowcount
        if updated == 1:
            return current
