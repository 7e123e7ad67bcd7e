"""Admitting a Match or Score call: consents, windows, scoring budget and quota, or nothing.

Everything runs in one transaction (the release desk's ``reserve``), in this order:

1. Each subject's consent is checked and one use of each admitted subject's consent is taken
   (``zone.consent.check_and_consume``). A refused subject gets status CONSENT_REFUSED: it
   is not evaluated or scored and counts against no window or budget, since nothing is
   computed for it.
2. The per-subject windows of the subjects admitted are checked and the call's check log row
   written (``limits.WindowGate``); for Score, the model's budget takes the subjects scored.
3. The grant's call quota and price (the desk).

A refusal at any step rolls back every step: no consent use, no window, no budget, no quota.
A call in which no subject is admitted is not charged either: it is answered with every
subject CONSENT_REFUSED and releases nothing (no receipt; its precise refusals are audited).
The precise refusal reasons go to a ``verification.consent`` audit record; the caller is told
the public reasons (another operator's consent reads ``unknown``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from zone.audit import AuditChain
from zone.consent import ConsentOutcomes, ConsentScope, check_and_consume
from zone.consent.tokens import MAX_TOKEN_LENGTH
from zone.errors import InvalidArgument
from zone.products.verification.calls import Call
from zone.products.verification.limits import CheckLimiter, CheckLog, take_score_budget
from zone.products.verification.records import ProductRecords
from zone.release.desk import Order, ReleaseDesk, Ticket
from zone.state.api import Tx

I64 = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Admitted:
    """The outcome of an admission.

    Attributes:
        ticket: The desk's ticket; None when no subject was admitted (nothing charged).
        outcomes: Each subject's consent outcome, in request order.
        checked: Per subject, whether it was admitted (evaluated or scored).
        log: The check log row written (None when nothing was admitted).
    """

    ticket: Ticket | None
    outcomes: ConsentOutcomes
    checked: Flags
    log: CheckLog | None

    @property
    def refusals(self) -> tuple[str, ...]:
        """Per subject the reason the caller is told, ``""`` where it was admitted."""
        return self.outcomes.public_reasons()


class _NothingAdmitted(Exception):
    """Raised inside the admission to roll it back when every consent was refused."""


def check_consent_refs(refs: Sequence[str], subjects: int) -> None:
    """Refuse a consent list that is not aligned with the subjects (before admission).

    Raises:
        InvalidArgument: neither empty nor one per subject, or a reference over the size cap.
    """
    if refs and len(refs) != subjects:
        raise InvalidArgument(
            "consents must name one consent per subject, in subject order (or none)",
            reason="bad_consents",
        )
    if any(len(ref) > MAX_TOKEN_LENGTH for ref in refs):
        raise InvalidArgument(
            f"a consent reference is longer than {MAX_TOKEN_LENGTH} characters",
            reason="bad_consents",
        )


class Admission:
    """Admits calls of verification products (see the module docstring)."""

    def __init__(
        self,
        limiter: CheckLimiter,
        desk: ReleaseDesk,
        audit: AuditChain,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._limiter = limiter
        self._desk = desk
        self._audit = audit
        self._clock = clock

    def admit(
        self,
        call: Call,
        rows: I64,
        records: ProductRecords,
        refs: Sequence[str],
        *,
        count_unknown: bool = False,
        complete: Flags | None = None,
        model: str | None = None,
    ) -> Admitted:
        """Admit the call's subjects, or refuse the call with nothing changed.

        Args:
            call: The call (validated; nothing computed yet).
            rows: Each subject's row (-1 where not in the dataset).
            records: The product's records (for the windows).
            refs: One consent reference per subject (or none).
            count_unknown: Subjects not in the dataset count against the windows.
            complete: Score: which subjects have every zone feature (budgeted if admitted).
            model: Score: the model's reference (its budget is taken).

        Raises:
            SubjectLimitReached: a subject admitted is at its window's limit.
            ScoreBudgetExhausted: the model's budget cannot cover the subjects scored.
            QuotaExhausted: the grant's call quota for this product is spent.
            InvalidArgument: a consent token does not parse.
        """
        subjects = call.query.subjects
        product = call.product
        scope = ConsentScope(
            call.principal.id,
            product.id,
            call.query.purpose,
            product.consent,
            call.request_id,
            call.release_id,
        )
        pairs = list(zip(subjects, refs or [""] * len(subjects), strict=True))
        found: dict[str, Any] = {}

        def admit(tx: Tx) -> None:
            outcomes = check_and_consume(
                tx, scope, pairs, now=self._clock(), authorities=call.policies.consent_keys()
            )
            checked = outcomes.admitted
            found.update(outcomes=outcomes, checked=checked)
            if not checked.any():
                raise _NothingAdmitted
            log = call.log(outcomes.admitted_subjects)
            found["log"] = log
            kept = rows[checked]
            unknown = (
                [subjects[i] for i in np.flatnonzero(checked & (rows < 0)).tolist()]
                if count_unknown
                else []
            )
            gate.take(tx, log, kept[kept >= 0], unknown)
            if not checked.all():
                self._audit.append("verification.consent", self._record(call, outcomes), conn=tx)
            if model is not None and complete is not None:
                take_score_budget(
                    tx,
                    principal=call.principal.id,
                    product=product.id,
                    model=model,
                    count=int(np.count_nonzero(complete & checked)),
                    budget=product.limits.score_queries_per_model,
                )

        order = Order(
            call.principal.id,
            call.grant,
            product.id,
            "call",
            call.request_id,
            release_id=call.release_id,
            dataset=product.dataset,
            dataset_version=records.version,
        )
        limits = product.limits
        with self._limiter.admitting(
            (call.principal.id, product.id, call.kind),
            records,
            limit=limits.checks_per_subject,
            zone_limit=limits.zone_limit,
            window_hours=limits.window_hours,
            count_unknown=count_unknown,
        ) as gate:
            try:
                # Not durable: the receipt, written durably before the reply, makes it so.
                ticket: Ticket | None = self._desk.reserve(order, admit=admit, durable=False)
            except _NothingAdmitted:
                ticket = None
        if ticket is None:
            self._audit.append(
                "verification.consent", self._record(call, found["outcomes"]), durable=False
            )
        return Admitted(ticket, found["outcomes"], found["checked"], found.get("log"))

    @staticmethod
    def _record(call: Call, outcomes: ConsentOutcomes) -> dict[str, Any]:
        return {
            "request_id": call.request_id,
            "release_id": call.release_id,
            "principal": call.principal.id,
            "product": call.product.id,
            "kind": call.kind,
            "subjects": len(outcomes),
            **outcomes.receipt_fields(),
        }
