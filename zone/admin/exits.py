"""A principal's exit from the zone (退出, ``zone operators exit ID``): stop, wind down, receipt.

:meth:`Exits.exit`, for an administrator, in this order (each step is idempotent, so a repeated
or interrupted exit finishes what the first began and ends with the same single receipt):

1. **Stop.** One write transaction inserts the ``principal_exits`` row with its
   ``principal.exit_started`` audit record. From then on the interceptor refuses the principal's
   calls (PERMISSION_DENIED, ``principal_exited``; this process at once, a replica within a
   second), and every reservation, cohort upload and key registration re-checks the row inside
   its own write transaction (``zone.access.refuse_exited``), so a call already past the
   interceptor cannot start new work: work committed before the row is found by the next steps.
2. **Cancel running jobs** under the charging rule (``TrainingJobs.cancel``): a job that touched
   data stays charged (``failed``), a queued one is refunded, each charge settled exactly once
   (the ledger's conditional UPDATE).
3. **Erase its cohorts** (shredded, each with its own erasure receipt, trigger ``exit``) and
   **its HE keys** (revoked; the stored public contexts overwritten with nothing).
4. **Settle its charges**: calls still holding a reservation get ``settle_seconds`` to finish;
   what is still open then is settled ``failed`` (charged: it may have read data).
5. **Receipt.** One conditional UPDATE marks the exit finished and appends the exit receipt, a
   ``release`` entry on the audit chain (kind ``principal.exit``), served and verified offline
   like every receipt (``zone receipt get|verify``): the jobs ended, cohorts and keys erased,
   charges settled, the budget spent per dataset and the bill per product and currency. The
   audit chain, receipts, charges and usage rows are kept.

Who may leave: operators and researchers named in the policy set in force (an administrator
or supervisor is removed by editing policies). An exit cannot be undone.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from zone import __version__
from zone.admin.suspensions import Suspensions, clean_note
from zone.audit import AuditChain, canonical_json, utc_timestamp
from zone.errors import FailedPrecondition, NotFound
from zone.ledger import PrivacyLedger
from zone.metering.reports import Period, usage_report
from zone.policy import PolicySet, Principal
from zone.products.joint.service import JointJobs
from zone.products.verification.keys import KeyStore
from zone.state.api import State, Tx

EXIT_KIND = "principal.exit"
EXIT_TRIGGER = "exit"
LEAVING_ROLES = frozenset({"operator", "researcher"})
RETAINED = ("audit chain", "receipts", "charges", "usage")


@dataclass(frozen=True)
class ExitResult:
    """A finished exit: its receipt (as on the chain) and whether this call finished it."""

    principal: str
    receipt_id: str
    receipt: Mapping[str, Any]
    audit_seq: int
    already: bool


@dataclass(frozen=True)
class ExitRecord:
    """A begun exit as stored (``finished_at`` and ``receipt_id`` empty until it finishes)."""

    principal: str
    started_at: str
    started_by: str
    note: str
    finished_at: str | None
    receipt_id: str | None


class Exits:
    """Principals leaving the zone (see the module docstring)."""

    def __init__(
        self,
        store: State,
        audit: AuditChain,
        *,
        suspensions: Suspensions,
        jobs: JointJobs,
        keys: KeyStore,
        ledger: PrivacyLedger,
        policies: Callable[[], PolicySet],
        settle_seconds: float = 10.0,
    ) -> None:
        self._store = store
        self._audit = audit
        self._suspensions = suspensions
        self._jobs = jobs
        self._keys = keys
        self._ledger = ledger
        self._policies = policies
        self._settle_seconds = settle_seconds
        self._lock = threading.Lock()

    def exit(self, principal: str, *, actor: Principal, note: str, request_id: str) -> ExitResult:
        """Stop ``principal``, wind its work down and issue its exit receipt (idempotent).

        Raises:
            NotFound: no such principal in the policy set in force (and no exit begun).
            FailedPrecondition: the principal is an administrator or supervisor, or the actor.
            InvalidArgument: the note is too long.
        """
        note = clean_note(note)
        with self._lock:  # one exit at a time in this process; the steps hold across replicas
            done = self.finished(principal)
            if done is not None:
                return done
            self._begin(principal, actor, note)
            self._suspensions.refresh()
            self._cancel_jobs(principal, actor)
            self._jobs.erase_cohorts_of(principal, EXIT_TRIGGER, request_id)
            self._keys.erase_owned(principal, request_id)
            self._settle(principal)
            return self._finish(principal, request_id)

    def finished(self, principal: str) -> ExitResult | None:
        """The exit of ``principal`` if it has finished (its receipt), else None."""
        with self._store.read() as tx:
            row = tx.execute(
                "SELECT receipt_id, receipt_seq FROM principal_exits "
                "WHERE principal = ? AND finished_at IS NOT NULL",
                (principal,),
            ).fetchone()
            if row is None:
                return None
            entry = tx.execute("SELECT record FROM audit_log WHERE seq = ?", (row[1],)).fetchone()
        return ExitResult(principal, str(row[0]), json.loads(entry[0]), int(row[1]), True)

    def all(self) -> dict[str, ExitRecord]:
        """Every begun or finished exit, by principal."""
        with self._store.read() as tx:
            rows = tx.execute(
                "SELECT principal, started_at, started_by, note, finished_at, receipt_id "
                "FROM principal_exits ORDER BY principal"
            ).fetchall()
        return {str(row[0]): ExitRecord(*row) for row in rows}

    def receipt_entry(self, receipt_id: str) -> tuple[str, int] | None:
        """(principal, audit seq) of an exit receipt, for receipt bundles; None if unknown."""
        with self._store.read() as tx:
            row = tx.execute(
                "SELECT principal, receipt_seq FROM principal_exits WHERE receipt_id = ?",
                (receipt_id,),
            ).fetchone()
        return None if row is None or row[1] is None else (str(row[0]), int(row[1]))

    def _begin(self, principal: str, actor: Principal, note: str) -> None:
        known = self._policies().principals.get(principal)
        with self._store.write() as tx:
            begun = tx.execute(
                "SELECT 1 FROM principal_exits WHERE principal = ?", (principal,)
            ).fetchone()
            if begun is not None:
                return  # an interrupted exit: finish it
            if known is None:
                raise NotFound("no such principal", reason="unknown_principal")
            if known.role not in LEAVING_ROLES:
                raise FailedPrecondition(
                    f"a {known.role} cannot exit; remove it from the policies instead",
                    reason="role_cannot_exit",
                )
            if principal == actor.id:
                raise FailedPrecondition("you cannot exit yourself", reason="self_exit")
            tx.execute(
                "INSERT INTO principal_exits (principal, started_at, started_by, note) "
                "VALUES (?, ?, ?, ?)",
                (principal, utc_timestamp(), actor.id, note),
            )
            self._audit.append(
                "principal.exit_started",
                {"principal": actor.id, "target": principal, "note": note},
                conn=tx,
            )

    def _cancel_jobs(self, principal: str, actor: Principal) -> None:
        with self._store.read() as tx:
            rows = tx.execute(
                "SELECT job_id FROM jobs WHERE principal = ? AND state IN ('queued', 'running') "
                "ORDER BY created_at",
                (principal,),
            ).fetchall()
        for (job_id,) in rows:
            try:
                self._jobs.cancel(actor, str(job_id))
            except FailedPrecondition:
                pass  # it ended meanwhile, settled by its own path

    def _settle(self, principal: str) -> None:
        deadline = time.monotonic() + self._settle_seconds
        while self._ledger.open_charges(principal) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._ledger.fail_open(principal, "principal exited")

    def _finish(self, principal: str, request_id: str) -> ExitResult:
        receipt_id = uuid.uuid4().hex
        with self._store.write() as tx:
            row = tx.execute(
                "SELECT started_at, started_by, note FROM principal_exits "
                "WHERE principal = ? AND finished_at IS NULL",
                (principal,),
            ).fetchone()
            if row is None:  # another replica finished it first
                done = None
            else:
                receipt = self._receipt(tx, principal, receipt_id, request_id, row)
                tx.execute(
                    "UPDATE principal_exits SET finished_at = ?, receipt_id = ? "
                    "WHERE principal = ? AND finished_at IS NULL",
                    (receipt["time"], receipt_id, principal),
                )
                entry = self._audit.append("release", receipt, conn=tx)
                tx.execute(
                    "UPDATE principal_exits SET receipt_seq = ? WHERE principal = ?",
                    (entry.seq, principal),
                )
                done = ExitResult(principal, receipt_id, receipt, entry.seq, False)
        return done or self._must_be_finished(principal)

    def _must_be_finished(self, principal: str) -> ExitResult:
        found = self.finished(principal)
        if found is None:  # pragma: no cover - the row was finished by another writer
            raise FailedPrecondition("the exit did not finish", reason="exit_unfinished")
        return found

    def _receipt(
        self, tx: Tx, principal: str, receipt_id: str, request_id: str, row: tuple[Any, ...]
    ) -> dict[str, Any]:
        started_at, started_by, note = row
        statement = {
            "started_at": started_at,
            "started_by": started_by,
            "note": note,
            "finished_at": utc_timestamp(),
            **_wound_down(tx, principal, started_at),
            "retained": list(RETAINED),
        }
        digest = hashlib.sha256(canonical_json(statement).encode()).hexdigest()
        return {
            "release_id": receipt_id,
            "request_id": request_id,
            "time": statement["finished_at"],
            "principal": principal,
            "product": "",
            "dataset": "",
            "dataset_version": "",
            "policy_digest": self._policies().digest,
            "code_version": __version__,
            "epsilon_micro": 0,
            "delta_femto": 0,
            "output_digest": "sha256:" + digest,
            "kind": EXIT_KIND,
            **statement,
        }


def _wound_down(tx: Tx, principal: str, since: str) -> dict[str, Any]:
    """What the exit ended, erased and settled, and the principal's totals (from the state)."""
    jobs = tx.execute(
        "SELECT j.job_id, j.state, COALESCE(c.state, '') FROM jobs j "
        "LEFT JOIN charges c ON c.release_id = j.release_id AND j.release_id <> '' "
        "WHERE j.principal = ? AND j.finished_at >= ? ORDER BY j.job_id",
        (principal, since),
    ).fetchall()
    cohorts = tx.execute(  # by the exit, or at the end of a job the exit cancelled
        "SELECT erasure_id FROM cohorts WHERE owner = ? AND erased_at >= ? ORDER BY erasure_id",
        (principal, since),
    ).fetchall()
    keys = tx.execute(
        "SELECT key_id FROM verification_keys WHERE owner = ? AND length(context) = 0 "
        "ORDER BY key_id",
        (principal,),
    ).fetchall()
    settled = tx.execute(
        "SELECT COUNT(*) FROM charges WHERE principal = ? AND state = 'failed' "
        "AND reason = 'principal exited'",
        (principal,),
    ).fetchone()
    budget = tx.execute(
        "SELECT dataset, epsilon_micro, delta_femto FROM budget_spend WHERE principal = ? "
        "ORDER BY dataset",
        (principal,),
    ).fetchall()
    bill = usage_report(tx, Period(), principal=principal)
    return {
        "jobs_ended": [{"job_id": j, "state": s, "charge": c} for j, s, c in jobs],
        "cohorts_erased": [str(r[0]) for r in cohorts],
        "keys_erased": [str(r[0]) for r in keys],
        "open_charges_failed": int(settled[0]),
        "budget_spent": [
            {"dataset": d, "epsilon_micro": int(e), "delta_femto": int(f)} for d, e, f in budget
        ],
        "bill": [
            {
                "product": u.product,
                "currency": u.currency,
                "calls": int(u.calls),
                "jobs": int(u.jobs),
                "amount_micro": int(u.amount_micro),
            }
            for u in bill
        ],
    }
