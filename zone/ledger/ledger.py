"""The privacy ledger: budgets per principal x dataset, a zone-wide cap per dataset, charges.

Every reservation is one write transaction (durable, or made durable by the call's own durable
settlement before its reply: ``zone.release.desk``) holding:
1. a conditional ``UPDATE budget_spend SET spent = spent + cost WHERE spent + cost <= limit``
   whose row count says whether the principal's budget had room (no check-then-write race:
   40 concurrent reservations of 0.1 against 1.0 grant exactly 10),
2. the same for the zone-wide cap of the dataset, if the policy declares one (operators can
   pool their answers, so the zone bounds the total released about each dataset),
3. the charge row, and
4. its audit-chain record.
All or nothing: a refused reservation changes nothing. Charges are made before any noise is
drawn. A reservation ends as ``released`` (the result left the zone; the receipt is written in
the same transaction), ``failed`` (something data-dependent ran; the budget stays spent) or
``refunded`` (nothing data-dependent ran). A reservation still ``reserved`` after a crash is
settled as ``failed`` by :meth:`PrivacyLedger.recover`: charged exactly once, never refunded.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zone.audit import AuditChain, AuditEntry, ReleasedArtifact, insert_release, utc_timestamp
from zone.errors import NotFound, ResourceExhausted
from zone.ledger.charges import INTERRUPTED, REPLICA_DIED, AlreadySettled, ChargeState
from zone.ledger.spending import spend_budget, spend_dataset_cap
from zone.ledger.units import ZERO, Amount
from zone.state.api import State, Statement, Tx, execute_all, execute_later


@dataclass(frozen=True)
class Account:
    """Whose budget a charge draws on, with the limits in force (from the policy set)."""

    principal: str
    dataset: str
    limit: Amount
    cap: Amount | None = None


@dataclass(frozen=True)
class Balance:
    """Spent and remaining budget of an account (and of the dataset's zone-wide cap)."""

    spent: Amount
    limit: Amount
    remaining: Amount
    cap_remaining: Amount | None


@dataclass(frozen=True)
class Reservation:
    """A charge made before a computation runs."""

    release_id: str
    request_id: str
    principal: str
    product: str
    dataset: str
    cost: Amount


class BudgetExhausted(ResourceExhausted):
    """The cost does not fit in the principal's budget or the dataset's zone-wide cap.

    The message says which of epsilon and delta is short, and by how much; the violation
    (a google.rpc.QuotaFailure on the wire) states the request and what remains.
    """

    def __init__(self, what: str, *, subject: str, balance: Balance, cost: Amount) -> None:
        remaining = balance.remaining if subject == "principal" else balance.cap_remaining
        left = remaining or ZERO
        super().__init__(
            f"{what} cannot cover this request: {shortfall(cost, left)}", reason="budget_exhausted"
        )
        self.subject = subject
        self.balance = balance
        self.cost = cost
        self.violations: tuple[tuple[str, str], ...] = (
            (
                f"privacy-budget:{subject}",
                f"requested epsilon {cost.epsilon:g} (delta {cost.delta:g}); "
                f"remaining epsilon {left.epsilon:g} (delta {left.delta:g})",
            ),
        )


def shortfall(cost: Amount, left: Amount) -> str:
    """Which of epsilon and delta ``left`` cannot cover, and by how much."""
    short = []
    if cost.epsilon_micro > left.epsilon_micro:
        gap = Amount(cost.epsilon_micro - left.epsilon_micro, 0).epsilon
        short.append(
            f"epsilon is short by {gap:g} (requested {cost.epsilon:g}, remaining {left.epsilon:g})"
        )
    if cost.delta_femto > left.delta_femto:
        gap = Amount(0, cost.delta_femto - left.delta_femto).delta
        short.append(
            f"delta is short by {gap:g} (requested {cost.delta:g}, remaining {left.delta:g})"
        )
    # Both fit only if a concurrent refund returned budget after this request was refused.
    return "; ".join(short) or "the remaining budget changed meanwhile; retry"


class PrivacyLedger:
    """Reserve, settle and report privacy budget; see the module docstring for guarantees."""

    def __init__(self, store: State, audit: AuditChain) -> None:
        self._store = store
        self._audit = audit

    def balance(self, account: Account) -> Balance:
        """Spent and remaining budget of ``account`` (a snapshot read)."""
        with self._store.read() as conn:
            return _balance(conn, account)

    def reserve(
        self,
        account: Account,
        *,
        product: str,
        cost: Amount,
        request_id: str,
        release_id: str = "",
        conn: Tx | None = None,
    ) -> Reservation:
        """Charge ``cost`` to ``account`` (and the dataset cap) durably, or change nothing.

        With ``conn`` (an open ``store.write()``) the charge joins the caller's transaction, so
        that e.g. a job and its reservation commit together; a refusal then raises out of the
        caller's ``with store.write()``, which rolls back everything.

        Raises:
            BudgetExhausted: the cost does not fit; nothing was charged.
        """
        reservation = Reservation(
            release_id or uuid.uuid4().hex,
            request_id,
            account.principal,
            product,
            account.dataset,
            cost,
        )
        try:
            with self._store.joined(conn) as w:
                spend = spend_budget(account.principal, account.dataset, account.limit, cost)
                spend_dataset = spend_dataset_cap(account.dataset, account.cap, cost)
                principal, dataset = execute_all(w, (spend.update, spend_dataset.update))
                if not spend.decided(w, principal.rowcount):
                    raise _Refused("principal")
                if not spend_dataset.decided(w, dataset.rowcount):
                    raise _Refused("dataset")
                execute_later(w, *_insert_charge(reservation))
                self._audit.append("ledger.charge", _charge_record(reservation), conn=w)
        except _Refused as refused:
            balance = self.balance(account)
            what = (
                "your privacy budget"
                if refused.subject == "principal"
                else ("the zone-wide privacy budget")
            )
            raise BudgetExhausted(
                f"{what} for dataset {account.dataset!r}",
                subject=refused.subject,
                balance=balance,
                cost=cost,
            ) from None
        return reservation

    def reservation(self, release_id: str) -> Reservation:
        """The reservation behind a charge (for settling it later, e.g. a training job's).

        Raises:
            NotFound: no such charge.
        """
        with self._store.read() as conn:
            row = conn.execute(
                "SELECT release_id, request_id, principal, product, dataset, epsilon_micro, "
                "delta_femto FROM charges WHERE release_id = ?",
                (release_id,),
            ).fetchone()
        if row is None:
            raise NotFound("no such charge")
        release_id, request_id, principal, product, dataset, eps, delta = row
        return Reservation(release_id, request_id, principal, product, dataset, Amount(eps, delta))

    def release(
        self,
        reservation: Reservation,
        receipt: Mapping[str, Any],
        *,
        artifact: ReleasedArtifact | None = None,
        conn: Tx | None = None,
    ) -> AuditEntry:
        """Mark the charge released and append its receipt, in one durable transaction.

        With ``artifact``, the release registry row (receipt + what was released, for receipts
        and tracing) is written in the same transaction. With ``conn`` (an open
        ``store.write()``), join the caller's transaction instead.

        Raises:
            ValueError: with ``artifact``, the receipt lacks a required field (nothing written).
        """
        with self._store.joined(conn) as w:
            _settle(w, reservation.release_id, ChargeState.RELEASED, "")
            entry = self._audit.append("release", dict(receipt), conn=w)
            if artifact is not None:
                insert_release(w, entry, artifact)
            return entry

    def fail(self, reservation: Reservation, reason: str, *, conn: Tx | None = None) -> None:
        """Something data-dependent ran and failed: the budget stays spent."""
        with self._store.joined(conn) as w:
            _settle(w, reservation.release_id, ChargeState.FAILED, reason)
            self._audit.append(
                "ledger.failed", {**_charge_record(reservation), "reason": reason}, conn=w
            )

    def refund(self, reservation: Reservation, reason: str, *, conn: Tx | None = None) -> None:
        """Nothing data-dependent ran: give the budget back."""
        cost = reservation.cost
        with self._store.joined(conn) as w:
            _settle(w, reservation.release_id, ChargeState.REFUNDED, reason)
            for table, where, args in (
                (
                    "budget_spend",
                    "principal = ? AND dataset = ?",
                    (reservation.principal, reservation.dataset),
                ),
                ("dataset_spend", "dataset = ?", (reservation.dataset,)),
            ):
                w.execute(
                    f"UPDATE {table} SET epsilon_micro = epsilon_micro - ?, "
                    f"delta_femto = delta_femto - ? WHERE {where}",
                    (cost.epsilon_micro, cost.delta_femto, *args),
                )
            self._audit.append(
                "ledger.refund", {**_charge_record(reservation), "reason": reason}, conn=w
            )

    def recover(self, owner: str | None = None) -> int:
        """Settle reservations left open by a crash as failed (still charged); return how many.

        The reservations of unfinished jobs are left alone: callers end a dead process's jobs
        first (by the job charging rule), so what is still unfinished runs on ``zone worker``
        processes, which settle their own charges.

        Args:
            owner: Only those of this dead replica (see ``zone.state.owners``); None: all.
        """
        where, reason = ("", INTERRUPTED) if owner is None else (" AND owner = ?", REPLICA_DIED)
        with self._store.write() as conn:
            rows = conn.execute(
                f"SELECT release_id FROM charges WHERE state = 'reserved'{where} "
                "AND release_id NOT IN "
                "(SELECT release_id FROM jobs WHERE state IN ('queued', 'running')) "
                "ORDER BY created_at",
                () if owner is None else (owner,),
            ).fetchall()
            for (release_id,) in rows:
                _settle(conn, release_id, ChargeState.FAILED, reason)
                self._audit.append(
                    "ledger.failed", {"release_id": release_id, "reason": reason}, conn=conn
                )
        return len(rows)

    def open_charges(self, principal: str) -> int:
        """How many of ``principal``'s charges are still ``reserved`` (calls or jobs running)."""
        with self._store.read() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM charges WHERE principal = ? AND state = 'reserved'",
                (principal,),
            ).fetchone()
        return int(row[0])

    def fail_open(self, principal: str, reason: str) -> int:
        """Settle ``principal``'s open charges as failed (still charged); return how many.

        For an exit: work still open after its calls had time to finish may have read data, so
        it is charged, as a crash's open charges are (:meth:`recover`). Its call, if it ever
        tries to release, meets ``AlreadySettled`` and releases nothing.
        """
        with self._store.write() as conn:
            rows = conn.execute(
                "SELECT release_id FROM charges WHERE principal = ? AND state = 'reserved' "
                "ORDER BY created_at",
                (principal,),
            ).fetchall()
            for (release_id,) in rows:
                _settle(conn, release_id, ChargeState.FAILED, reason)
                self._audit.append(
                    "ledger.failed", {"release_id": release_id, "reason": reason}, conn=conn
                )
        return len(rows)


class _Refused(Exception):
    def __init__(self, subject: str) -> None:
        super().__init__(subject)
        self.subject = subject


def _insert_charge(r: Reservation) -> Statement:
    return (
        "INSERT INTO charges (release_id, request_id, principal, product, dataset, "
        "epsilon_micro, delta_femto, state, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'reserved', ?)",
        (
            r.release_id,
            r.request_id,
            r.principal,
            r.product,
            r.dataset,
            r.cost.epsilon_micro,
            r.cost.delta_femto,
            utc_timestamp(),
        ),
    )


def _settle(tx: Tx, release_id: str, state: ChargeState, reason: str) -> None:
    """Move an open charge to an end state (one conditional UPDATE: exactly once).

    Raises:
        AlreadySettled: the charge is not ``reserved`` (or does not exist); nothing changed.
    """
    cursor = tx.execute(
        "UPDATE charges SET state = ?, reason = ?, settled_at = ? "
        "WHERE release_id = ? AND state = ?",
        (state.value, reason, utc_timestamp(), release_id, ChargeState.RESERVED.value),
    )
    if cursor.rowcount != 1:
        found = tx.execute("SELECT state, reason FROM charges WHERE release_id = ?", (release_id,))
        row = found.fetchone() or ("", "")
        raise AlreadySettled(release_id, row[0], row[1] or "")


def _charge_record(r: Reservation) -> dict[str, Any]:
    return {
        "release_id": r.release_id,
        "request_id": r.request_id,
        "principal": r.principal,
        "product": r.product,
        "dataset": r.dataset,
        "epsilon_micro": r.cost.epsilon_micro,
        "delta_femto": r.cost.delta_femto,
    }


def _balance(conn: Tx, account: Account) -> Balance:
    row = conn.execute(
        "SELECT epsilon_micro, delta_femto FROM budget_spend WHERE principal = ? AND dataset = ?",
        (account.principal, account.dataset),
    ).fetchone()
    spent = Amount(*row) if row else ZERO
    cap_remaining = None
    if account.cap is not None:
        total = conn.execute(
            "SELECT epsilon_micro, delta_femto FROM dataset_spend WHERE dataset = ?",
            (account.dataset,),
        ).fetchone()
        cap_remaining = account.cap.minus(Amount(*total) if total else ZERO)
    return Balance(spent, account.limit, account.limit.minus(spent), cap_remaining)
