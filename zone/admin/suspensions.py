"""Suspended principals: an administrator's correction that takes effect on the next call.

The set lives in the state database (table ``principal_suspensions``, migration 0010). The
interceptor asks :meth:`Suspensions.is_suspended` once per authenticated call; the answer comes
from a copy of the (small) table re-read at most every ``refresh_seconds`` (1 s), and
:meth:`suspend` and :meth:`resume` refresh it at once, so the next call through this process is
refused. Another process sharing the state (a replica) sees a suspension within
``refresh_seconds``. A read per call cost 20 us, 3-4% of a call (measured in
``benchmarks/bench_console.py``). A principal whose exit has begun (``principal_exits``,
``zone.admin.exits``) reads as suspended too, for good: resuming cannot lift an exit.
Suspending and resuming are audited in
the same transaction as the change (``principal.suspended``, ``principal.resumed``), with the
acting administrator as ``principal`` and the suspended one as ``target``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from zone.audit import AuditChain, utc_timestamp
from zone.errors import FailedPrecondition, InvalidArgument
from zone.state.api import State

MAX_NOTE = 2000


@dataclass(frozen=True)
class Suspension:
    """One suspended principal: when, by whom, and the administrator's note."""

    principal: str
    suspended_at: str
    suspended_by: str
    note: str


def clean_note(note: str) -> str:
    """A note as stored: stripped and at most ``MAX_NOTE`` characters.

    Raises:
        InvalidArgument: the note is longer than ``MAX_NOTE`` characters.
    """
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise InvalidArgument(f"a note has at most {MAX_NOTE} characters", reason="bad_note")
    return note


class Suspensions:
    """Suspend, resume and look up principals (the ``principal_suspensions`` table)."""

    def __init__(
        self,
        store: State,
        audit: AuditChain,
        *,
        refresh_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._audit = audit
        self._refresh = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._known: tuple[float, frozenset[str], frozenset[str]] | None = None

    def is_suspended(self, principal: str) -> bool:
        """Whether ``principal`` is suspended or has exited (as of ``refresh_seconds`` ago)."""
        known = self._current()
        return principal in known[1] or principal in known[2]

    def has_exited(self, principal: str) -> bool:
        """Whether ``principal``'s exit has begun (as of at most ``refresh_seconds`` ago)."""
        return principal in self._current()[2]

    def _current(self) -> tuple[float, frozenset[str], frozenset[str]]:
        known = self._known
        if known is None or self._clock() - known[0] >= self._refresh:
            known = self.refresh()
        return known

    def refresh(self) -> tuple[float, frozenset[str], frozenset[str]]:
        """Re-read the suspended and exited principals now (after a change made elsewhere)."""
        with self._lock:
            read_at = self._clock()
            with self._store.read() as conn:
                rows = conn.execute("SELECT principal FROM principal_suspensions").fetchall()
                gone = conn.execute("SELECT principal FROM principal_exits").fetchall()
            known = (read_at, frozenset(row[0] for row in rows), frozenset(row[0] for row in gone))
            self._known = known
            return known

    def suspend(self, principal: str, *, actor: str, note: str) -> Suspension:
        """Suspend ``principal``: its next gRPC call is refused. Audited, durable.

        Raises:
            FailedPrecondition: the principal is already suspended, or is the actor itself
                (an administrator who suspended themselves could not undo it).
            InvalidArgument: the note is too long.
        """
        note = clean_note(note)
        if principal == actor:
            raise FailedPrecondition("you cannot suspend yourself", reason="self_suspension")
        now = utc_timestamp()
        with self._store.write() as w:
            added = w.execute(
                "INSERT INTO principal_suspensions (principal, suspended_at, suspended_by, note) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (principal, now, actor, note),
            ).rowcount
            if added != 1:
                raise FailedPrecondition("the principal is already suspended", reason="suspended")
            self._audit.append(
                "principal.suspended",
                {"principal": actor, "target": principal, "note": note},
                conn=w,
            )
        self.refresh()
        return Suspension(principal, now, actor, note)

    def resume(self, principal: str, *, actor: str, note: str) -> None:
        """Lift the suspension of ``principal``. Audited, durable.

        Raises:
            FailedPrecondition: the principal is not suspended.
            InvalidArgument: the note is too long.
        """
        note = clean_note(note)
        with self._store.write() as w:
            removed = w.execute(
                "DELETE FROM principal_suspensions WHERE principal = ?", (principal,)
            ).rowcount
            if removed != 1:
                raise FailedPrecondition("the principal is not suspended", reason="not_suspended")
            self._audit.append(
                "principal.resumed",
                {"principal": actor, "target": principal, "note": note},
                conn=w,
            )
        self.refresh()

    def all(self) -> dict[str, Suspension]:
        """Every suspended principal, by id."""
        with self._store.read() as conn:
            rows = conn.execute(
                "SELECT principal, suspended_at, suspended_by, note FROM principal_suspensions "
                "ORDER BY principal"
            ).fetchall()
        return {row[0]: Suspension(*row) for row in rows}
