"""The events an executor reports about a job, shared by the parent and the worker process.

Every event is a JSON object with a string key ``"event"``. For each job an executor delivers,
in order:

* ``{"event": "started"}``: the worker process exists (never for a job cancelled or refused
  while it waited for a slot);
* any number of worker events, in the order the worker emitted them, e.g.
  ``{"event": "touched"}`` or ``{"event": "progress", "epoch": 3, "epsilon_spent": 0.4}``
  (their names and keys are the target's business, except the reserved names below);
* ``{"event": "exited", "exit_code": N}``: the worker process is gone and reaped (only after
  ``started``; ``N`` is negative for a signal, e.g. -9);
* exactly one terminal event, always last: ``{"event": "result", ...}`` (the worker's result),
  ``{"event": "error", "reason": "..."}`` or ``{"event": "cancelled"}``.

Workers may emit ``result`` and ``error`` (once, as their last event) and any other name that is
not reserved for the executor (``started``, ``exited``, ``cancelled``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

Event = dict[str, Any]
"""One event: a JSON object with a string ``"event"`` key."""

OnEvent = Callable[[str, Event], None]
"""The callback an executor reports to: ``on_event(job_id, event)``."""

Emit = Callable[[Event], None]
"""What a worker target receives to report events: ``emit({"event": "progress", ...})``."""

EventHandler = Callable[[str, Event], object]
"""Handles one kind of event of a job: ``handler(job_id, event)`` (what it returns is ignored)."""

STARTED: Final = "started"
EXITED: Final = "exited"
RESULT: Final = "result"
ERROR: Final = "error"
CANCELLED: Final = "cancelled"

TERMINAL_EVENTS: Final = frozenset({RESULT, ERROR, CANCELLED})
"""Exactly one of these ends every job's events."""

WORKER_TERMINAL_EVENTS: Final = frozenset({RESULT, ERROR})
"""The terminal events a worker may emit itself."""

EXECUTOR_EVENTS: Final = frozenset({STARTED, EXITED, CANCELLED})
"""Names only the executor may use; a worker emitting one is refused."""

MAX_REASON_CHARS: Final = 200
"""Longest public error reason."""

MAX_EVENT_BYTES: Final = 16 << 20
"""Largest encoded event a worker may send (a kept model's weights fit easily)."""


def error_event(reason: str) -> Event:
    """Return an ``error`` event with the reason cut to ``MAX_REASON_CHARS``."""
    return {"event": ERROR, "reason": reason[:MAX_REASON_CHARS]}


def cancelled_event() -> Event:
    """Return a ``cancelled`` event."""
    return {"event": CANCELLED}


def is_worker_event(event: object) -> bool:
    """Whether ``event`` is something a worker may send: an object with a non-reserved name."""
    if not isinstance(event, dict):
        return False
    name = event.get("event")
    return isinstance(name, str) and bool(name) and name not in EXECUTOR_EVENTS


class UnknownEvent(LookupError):
    """An event whose name no handler of the receiving table knows."""


def dispatch(handlers: Mapping[str, EventHandler], job_id: str, event: Event) -> None:
    """Call the handler of ``event``'s name: ``handlers[event["event"]](job_id, event)``.

    A receiver lists every event it may be sent, those it ignores too, so that an event it
    does not expect is an error rather than silently dropped.

    Raises:
        UnknownEvent: no handler for the event's name (nothing was called).
    """
    name = event.get("event")
    handler = handlers.get(name) if isinstance(name, str) else None
    if handler is None:
        known = ", ".join(sorted(handlers))
        raise UnknownEvent(f"job {job_id}: no handler for event {name!r} (known: {known})")
    handler(job_id, event)
