"""What a ``zone worker``'s job child runs: the product's target, its touched mark durable first.

On a replica the touched-data notice travels from the job's child to its parent over a pipe
and is written after the child has moved on, so a RUNNING job whose process dies counts as
touched (charged). On worker machines that rule charged every job whose worker died while it
was still importing or calibrating. Here the child writes the mark itself, in the state
database, and reads no data until the write has committed:

* the job's target (``zone.products.training.worker:run``) emits ``touched_data``
  immediately before its first read; :func:`run` hands it an ``emit`` that first calls
  ``JobStore.confirm_touched`` on its own connection, and only then returns (and forwards
  the event, which the worker's parent records again, idempotently);
* ``confirm_touched`` refuses a job that is no longer RUNNING (a reaper, a cancellation or a
  settlement got there first): :class:`JobEnded` is raised in the target, which stops before
  reading anything;
* if the database cannot be reached the job fails the same way, unread, and is refunded.

So a reaper that finds a RUNNING job not marked may refund it: nothing was read for it.
"""

from __future__ import annotations

import json
from typing import Any

from zone.audit import AuditChain
from zone.errors import ZoneError
from zone.jobs import JobStore
from zone.jobs.events import Emit, Event
from zone.jobs.worker import load_target
from zone.state.location import PoolOptions
from zone.state.postgres import PostgresState

TARGET = "zone.worker.child:run"
"""The executor target a ``zone worker`` starts every job with (see :func:`wrap`)."""

TOUCHED = "touched_data"
_ONE_CONNECTION = PoolOptions(min_connections=1, max_connections=1, timeout_seconds=10.0)


class JobEnded(ZoneError):
    """The job ended (reaped, cancelled) before it read data: it must read nothing."""

    def __init__(self) -> None:
        super().__init__("the job ended before it read data", reason="job_ended")


def wrap(*, target: str, payload: str, job_id: str, state_url: str) -> str:
    """The payload of :data:`TARGET` for one job: the real target, its payload, where to mark."""
    return json.dumps(
        {"target": target, "payload": payload, "job_id": job_id, "state_url": state_url}
    )


def run(wrapped: str, emit: Emit) -> None:
    """Run the wrapped target; its ``touched_data`` event is durable before it returns.

    Args:
        wrapped: What :func:`wrap` made.
        emit: The executor's event channel to the worker.

    Raises:
        JobEnded: the job is no longer RUNNING when the target is about to read data.
        Unavailable: the state database cannot be reached to record the mark.
    """
    job: dict[str, Any] = json.loads(wrapped)
    job_id, state_url = str(job["job_id"]), str(job["state_url"])

    def confirming(event: Event) -> None:
        if event.get("event") == TOUCHED:
            confirm_touched(state_url, job_id)
        emit(event)

    load_target(str(job["target"]))(str(job["payload"]), confirming)


def confirm_touched(state_url: str, job_id: str) -> None:
    """Record durably that ``job_id`` is about to read data (see the module doc).

    Raises:
        JobEnded: the job is not RUNNING.
        Unavailable: the state database cannot be reached.
    """
    store = PostgresState.open(state_url, _ONE_CONNECTION, migrate=False)
    try:
        if not JobStore(store, AuditChain(store)).confirm_touched(job_id):
            raise JobEnded()
    finally:
        store.close()
