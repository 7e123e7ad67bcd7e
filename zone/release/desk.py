"""The release desk: the one recipe by which every product charges, runs and releases.

1. ``reserve``: in ONE transaction, the privacy budget (if the product spends any:
   ``PrivacyLedger.reserve``, principal budget and zone-wide cap), the product's own
   admission (per-subject windows, scoring budgets, consents, the job row: a callback), and
   the grant's call quota and price (``Metering.charge``). A refusal by any of them rolls
   back all of them: nothing spent, nothing consumed. This happens before any data is read,
   so the charge is always made before any noise is drawn. It is durable on its own, or,
   for calls that settle durably before their reply (statistics, verification), made
   durable by that settlement's commit: nothing the call computed leaves before it.
2. The product computes. ``failing`` wraps that: if it raises, the ticket is settled
   ``failed`` (budget stays spent: data-dependent work ran) and the call is not billed.
3. ``release``: the charge is settled ``released`` and the typed receipt, its audit record and
   the release registry row commit in one durable transaction, before the reply leaves.
   ``refund`` is for work that never touched data (training jobs cancelled while queued).

Whatever the ending, a ticket is settled exactly once (``AlreadySettled`` otherwise), and a
ticket that does not end released is not billed: a failed or refunded privacy charge drops
its usage from the bill (metering reports join on the charge); a call without a privacy
charge has its usage voided.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from zone.access import refuse_exited, refuse_quarantined
from zone.audit import AuditEntry, ReleasedArtifact, ReleaseRegistry
from zone.errors import Unavailable
from zone.ledger import ZERO, Account, Amount, PrivacyLedger, Reservation
from zone.ledger.charges import INTERRUPTED, REPLICA_DIED, AlreadySettled
from zone.metering import Metering
from zone.metering.pricing import Unit
from zone.policy import Grant
from zone.release.receipt import Receipt
from zone.state.api import State, Tx

FENCED = "replica_fenced"
"""The reason of the UNAVAILABLE a call gets when a sweep settled its charge (``_fenced``)."""


def new_release_id() -> str:
    """A fresh release id (also the privacy charge's id)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Order:
    """What a call or job asks the desk to admit."""

    principal: str
    grant: Grant
    product: str
    unit: Unit
    request_id: str
    account: Account | None = None
    """The privacy budget drawn on; None for products that spend none (verification)."""
    cost: Amount = ZERO
    release_id: str = field(default_factory=new_release_id)
    dataset: str = ""
    dataset_version: str = ""
    """The dataset version the work reads (refused while quarantined); '' for none."""


@dataclass(frozen=True)
class Ticket:
    """An admitted order: settle it exactly once with ``release``, ``fail`` or ``refund``."""

    release_id: str
    request_id: str
    usage_id: str
    reservation: Reservation | None


Admission = Callable[[Tx], None]


class ReleaseDesk:
    """Reserve, run and settle; see the module docstring for the guarantees."""

    def __init__(
        self,
        state: State,
        ledger: PrivacyLedger,
        metering: Metering,
        releases: ReleaseRegistry,
    ) -> None:
        self._state = state
        self._ledger = ledger
        self._metering = metering
        self._releases = releases

    def reserve(
        self,
        order: Order,
        *,
        admit: Admission | None = None,
        durable: bool = True,
        settled_in_call: bool = False,
    ) -> Ticket:
        """Take budget, the product's admission and the call quota together, or nothing.

        The reservation commits (and so binds every concurrent reservation) before this
        returns, whatever ``durable`` says: the charge is made before any noise is drawn.
        ``durable`` only decides whether it is also on stable storage before this returns,
        or made so by the next durable commit (the log is replayed as a prefix: a later
        durable commit is never kept without this one, on SQLite or PostgreSQL).

        Args:
            order: Who, what, and the privacy cost.
            admit: The product's own admission, run inside the same transaction (it raises to
                refuse; everything then rolls back).
            durable: False only for orders whose settlement (``release`` or ``fail``) is
                written durably in the same call before its reply leaves, so that an OS crash
                can lose this reservation only together with everything the call computed
                (nothing of which left): verification's orders, and a privacy charge with
                ``settled_in_call``.
            settled_in_call: The caller settles a privacy charge durably before its reply
                and releases nothing else (statistics). Training and joint jobs outlive their
                call and reserve durably.

        Raises:
            BudgetExhausted: the budget or the zone-wide cap cannot cover the cost.
            QuotaExhausted: the grant's call quota for the product is spent.
            PermissionDenied: the principal has exited (or is exiting) the zone.
            FailedPrecondition: the dataset version the order reads is quarantined.
            Whatever ``admit`` raises to refuse.
        """
        if order.account is not None and not durable and not settled_in_call:
            raise ValueError("a privacy charge is reserved durably unless settled in its call")
        with self._state.write(durable=durable) as tx:
            refuse_exited(tx, order.principal)
            if order.dataset_version:
                refuse_quarantined(tx, order.dataset, order.dataset_version)
            reservation = None
            if order.account is not None:
                reservation = self._ledger.reserve(
                    order.account,
                    product=order.product,
                    cost=order.cost,
                    request_id=order.request_id,
                    release_id=order.release_id,
                    conn=tx,
                )
            if admit is not None:
                admit(tx)
            charge = self._metering.charge(
                order.principal,
                order.grant,
                order.product,
                unit=order.unit,
                request_id=order.request_id,
                release_id=order.release_id,
                conn=tx,
            )
        return Ticket(order.release_id, order.request_id, charge.usage_id, reservation)

    def reopen(self, release_id: str) -> Ticket:
        """The ticket of an earlier reservation (a training job's), to settle it.

        Raises:
            NotFound: no such charge.
        """
        reservation = self._ledger.reservation(release_id)
        return Ticket(release_id, reservation.request_id, "", reservation)

    @contextmanager
    def failing(self, ticket: Ticket) -> Iterator[None]:
        """Settle ``ticket`` as failed if the body raises (then re-raise)."""
        try:
            yield
        except BaseException as exc:
            with _fenced():
                self.fail(ticket, type(exc).__name__)
            raise

    def release(
        self,
        ticket: Ticket,
        receipt: Receipt,
        artifact: ReleasedArtifact,
        *,
        tx: Tx | None = None,
    ) -> AuditEntry:
        """Settle released: the receipt, its audit record and the registry row, together.

        Raises:
            AlreadySettled: the ticket's charge has ended already (nothing written).
            Unavailable: another replica settled it, taking this one for dead (fenced: see
                ``zone.state.presence``); nothing was released.
            ValueError: the receipt lacks a required field (nothing written).
        """
        record = receipt.to_record()
        if ticket.reservation is not None:
            with _fenced():
                return self._ledger.release(ticket.reservation, record, artifact=artifact, conn=tx)
        return self._releases.record(record, artifact, conn=tx)

    def fail(self, ticket: Ticket, reason: str, *, tx: Tx | None = None) -> None:
        """Data-dependent work ran and nothing was released: charged, not billed.

        Raises:
            AlreadySettled: the ticket's charge has ended already.
        """
        if ticket.reservation is not None:
            self._ledger.fail(ticket.reservation, reason, conn=tx)
        else:
            self._metering.void(ticket.usage_id, reason, conn=tx)

    def refund(self, ticket: Ticket, reason: str, *, tx: Tx | None = None) -> None:
        """Nothing data-dependent ran: the budget is given back and the call is not billed.

        Raises:
            AlreadySettled: the ticket's charge has ended already.
        """
        if ticket.reservation is not None:
            self._ledger.refund(ticket.reservation, reason, conn=tx)
        else:
            self._metering.void(ticket.usage_id, reason, conn=tx)


@contextmanager
def _fenced() -> Iterator[None]:
    """A charge another replica settled: this call cannot complete (UNAVAILABLE).

    A sweep took this replica for dead (its presence session was lost), or a replica starting
    alone on the state while this one was cut off took its open charges for a crash's; either
    settled the charge as failed, still charged. The caller may retry on any replica.
    """
    try:
        yield
    except AlreadySettled as exc:
        if exc.settled_because not in (REPLICA_DIED, INTERRUPTED):
            raise
        raise Unavailable(
            "this replica lost its place in the zone's state while the call ran; its charge "
            "was settled as failed (spent) and nothing was released; retry",
            reason=FENCED,
        ) from None
