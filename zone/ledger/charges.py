"""The life of a privacy charge: a transition table, as the job states have one.

A charge is ``reserved`` when a call or job is admitted, before any data is read. It ends
exactly once: ``released`` (the result left the zone; the receipt commits with it),
``failed`` (something data-dependent ran and produced nothing: the budget stays spent) or
``refunded`` (nothing data-dependent ran: the budget is given back). Nothing leaves an end
state; a crash leaves ``reserved`` charges that the next start settles as ``failed``.
"""

from __future__ import annotations

from enum import StrEnum

from zone.errors import FailedPrecondition


class ChargeState(StrEnum):
    """Where a charge is in its life."""

    RESERVED = "reserved"
    RELEASED = "released"
    FAILED = "failed"
    REFUNDED = "refunded"


TRANSITIONS: frozenset[tuple[ChargeState, ChargeState]] = frozenset(
    (ChargeState.RESERVED, end)
    for end in (ChargeState.RELEASED, ChargeState.FAILED, ChargeState.REFUNDED)
)
"""Every allowed (from, to) pair; anything else is refused."""

END_STATES = frozenset(to for _, to in TRANSITIONS)


def is_valid_transition(current: ChargeState, new: ChargeState) -> bool:
    """Whether a charge in ``current`` may move to ``new``."""
    return (current, new) in TRANSITIONS


class AlreadySettled(FailedPrecondition):
    """The charge has already ended (settlement is exactly once), or does not exist."""

    def __init__(self, release_id: str, state: str, settled_because: str = "") -> None:
        super().__init__(f"charge {release_id} is {state or 'unknown'}", reason="charge_settled")
        self.release_id = release_id
        self.state = state
        self.settled_because = settled_because
        """The reason the settlement recorded (``REPLICA_DIED``: another replica's sweep)."""


REPLICA_DIED = "replica died"
"""Why a sweep settled the open work of a replica whose place in the state was lost."""
INTERRUPTED = "interrupted"
"""Why a process starting alone on the state settled a charge left open (a crash's)."""
