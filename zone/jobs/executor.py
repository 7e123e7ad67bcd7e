"""Executors run job targets outside the server process and report events about them.

``Executor`` is the interface the rest of the zone uses; ``LocalProcessExecutor`` runs each job
in its own spawned process on this machine, taken from a pool of workers started ahead of time
(``zone.jobs.pool``). The events and their order are defined in
``zone.jobs.events``. Every executor guarantees, for each job it accepted:

* exactly one terminal event (``result``, ``error`` or ``cancelled``), delivered after every
  other event of that job;
* ``on_event`` is never called on the caller's thread and never for two events at once.

The distributed executor (``zone.jobs.remote.ProcrastinateExecutor``) implements the same four
methods over procrastinate: ``start`` queues the job in the PostgreSQL state for a ``zone
worker``, which runs it on a local executor of its own and handles its events there (so the
replica's ``on_event`` is not called). Targets and payloads are names and text (never callables
or objects), so the interface crosses machines unchanged; the zone's boundary then includes
those machines (they read the data).
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from zone.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from zone.jobs.events import EXITED, Event, OnEvent, cancelled_event, error_event
from zone.jobs.pool import Worker, WorkerPool
from zone.jobs.supervisor import JobHandle, Supervisor, WorkerLimits, read_rss

log = logging.getLogger(__name__)

_PRELOAD = re.compile(
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_]*)?$"
)
_TARGET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")


@runtime_checkable
class Executor(Protocol):
    """Runs job targets and reports their events (see the module docstring)."""

    def start(self, job_id: str, target: str, payload: str, on_event: OnEvent) -> None:
        """Accept a job; it runs when a slot is free (``started`` says when).

        Args:
            job_id: The job's id (unique among the executor's active jobs).
            target: ``"module:function"``, called in the worker as ``function(payload, emit)``.
            payload: The job's input as text (usually JSON).
            on_event: Called as ``on_event(job_id, event)`` for each event.
        """

    def cancel(self, job_id: str) -> bool:
        """Cancel a waiting or running job.

        Returns:
            True if the job's terminal event will be ``cancelled``. False if the executor does
            not know the job, or its outcome is decided already (that terminal event is on
            its way, or delivered).
        """

    def active(self) -> set[str]:
        """The ids of jobs accepted whose terminal event has not been posted yet."""

    def shutdown(self, grace: float) -> None:
        """Refuse new jobs, let running ones finish for ``grace`` seconds, stop the rest."""


class LocalProcessExecutor(Executor):
    """Runs each job in its own spawned process on this machine, at most N at a time.

    Workers are started with ``multiprocessing``'s ``spawn`` method: forking a process that
    runs a grpcio server is unsafe. Up to ``warm_workers`` of them are kept started (``pool``,
    a :class:`~zone.jobs.pool.WorkerPool`), with the ``preload`` modules imported, each waiting
    for one job (``zone.jobs.pool``: why one job per process keeps jobs apart, when a
    replacement starts, what an idle worker costs). Jobs beyond ``max_concurrent`` wait in FIFO
    order. Limits and how they are enforced: see ``zone.jobs.supervisor``. A worker's events
    arrive through a one-way pipe as JSON (never pickle). ``on_event`` runs on one dispatcher
    thread of the executor: it must not block for long and must not call ``shutdown``.
    """

    def __init__(
        self,
        *,
        max_concurrent: int = 1,
        wall_time_s: float = 3600,
        memory_bytes: int = 4 << 30,
        poll_s: float = 0.2,
        term_grace_s: float = 1.0,
        exit_grace_s: float = 5.0,
        warm_workers: int = 0,
        preload: Sequence[str] = (),
    ) -> None:
        """Create the executor and its dispatcher thread.

        Args:
            max_concurrent: Worker processes running at once.
            wall_time_s: Longest a worker may run, from its start.
            memory_bytes: Largest resident set size a worker may reach.
            poll_s: How often limits and cancellations are checked.
            term_grace_s: After SIGTERM (cancel, shutdown), how long before SIGKILL.
            exit_grace_s: After its terminal event, how long a worker may take to exit
                before it is killed (its terminal event stands).
            warm_workers: Idle workers kept started (0: start one when a job needs it).
            preload: What each worker imports before it waits for its job (names; never
                imported here): ``"module"``, or ``"module:function"`` to import and then
                call with no arguments, a warm-up that must read no job data.

        Raises:
            InvalidArgument: A limit is not positive, ``warm_workers`` is negative, or a
                preload entry is not a module or function name.
        """
        self._limits = WorkerLimits(wall_time_s, memory_bytes, poll_s, term_grace_s, exit_grace_s)
        if max_concurrent < 1 or min(wall_time_s, memory_bytes, poll_s, term_grace_s) <= 0:
            raise InvalidArgument("executor limits must be positive")
        if warm_workers < 0 or not all(_PRELOAD.match(name) for name in preload):
            raise InvalidArgument("warm_workers must be >= 0 and preload name modules or functions")
        if read_rss(os.getpid()) is None:
            log.warning("no /proc/<pid>/status here: worker memory limits are not enforced")
        self._max_concurrent = max_concurrent
        self._lock = threading.Lock()
        self._waiting: OrderedDict[str, JobHandle] = OrderedDict()
        self._running: dict[str, JobHandle] = {}
        self._closed = False
        self._events: queue.SimpleQueue[tuple[JobHandle, Event] | None] = queue.SimpleQueue()
        self._dispatcher = threading.Thread(
            target=self._dispatch, name="zone-job-events", daemon=True
        )
        self._dispatcher.start()
        self.pool = WorkerPool(warm=warm_workers, preload=preload)

    def start(self, job_id: str, target: str, payload: str, on_event: OnEvent) -> None:
        """Accept a job (see ``Executor.start``); the target is not imported here.

        Raises:
            InvalidArgument: ``target`` is not ``"module:function"``.
            AlreadyExists: A job with this id is active.
            FailedPrecondition: The executor is shut down.
        """
        if not _TARGET.match(target):
            raise InvalidArgument("a job target must look like 'package.module:function'")
        handle = JobHandle(job_id, target, payload, on_event)
        with self._lock:
            if self._closed:
                raise FailedPrecondition("the executor is shut down")
            if job_id in self._waiting or job_id in self._running:
                raise AlreadyExists("the job is running already")
            self._waiting[job_id] = handle
            self._fill_slots()

    def cancel(self, job_id: str) -> bool:
        """Cancel a job: a waiting one is dropped, a running one is stopped.

        A running worker gets SIGTERM, then SIGKILL after a short grace; its ``cancelled``
        event follows ``exited``. Returns at once; the supervisor does the stopping.

        Returns:
            True if the job's terminal event will be ``cancelled``; False if the job is
            unknown or its outcome was decided already.
        """
        with self._lock:
            handle = self._waiting.pop(job_id, None)
            if handle is not None:
                handle.decide(cancelled_event())
                self._post_terminal(handle)
                return True
            handle = self._running.get(job_id)
        return handle is not None and handle.request_stop(cancelled_event())

    def active(self) -> set[str]:
        """The ids of waiting and running jobs whose terminal event is not posted yet."""
        with self._lock:
            return set(self._waiting) | set(self._running)

    def shutdown(self, grace: float) -> None:
        """Stop: waiting jobs end with ``error``; running ones get ``grace`` seconds, then stop.

        When this returns every worker is reaped and every event delivered. Idempotent.
        """
        with self._lock:
            self._closed = True
            waiting = list(self._waiting.values())
            self._waiting.clear()
            for handle in waiting:
                handle.decide(error_event("the executor shut down before the job started"))
                self._post_terminal(handle)
            running = list(self._running.values())
        deadline = time.monotonic() + max(grace, 0.0)
        for handle in running:
            _join(handle, max(deadline - time.monotonic(), 0.0))
        for handle in running:
            handle.request_stop(error_event("the executor shut down while the job ran"))
        for handle in running:
            _join(handle, None)
        self.pool.close()  # every worker it gave out is reaped: its launcher may end
        self._events.put(None)
        self._dispatcher.join()

    def _fill_slots(self) -> None:
        """Start supervisors for waiting jobs while slots are free (holding ``_lock``).

        Then refill the pool if a worker may be needed before a running job ends (a job waits
        or a slot is free); otherwise the refill waits for a job to end (``_done``), so that a
        lone job does not share the CPU with its replacement's start-up.
        """
        while not self._closed and self._waiting and len(self._running) < self._max_concurrent:
            job_id, handle = self._waiting.popitem(last=False)
            self._running[job_id] = handle
            supervisor = Supervisor(handle, self._limits, self._take_worker, self._post, self._done)
            handle.thread = threading.Thread(
                target=supervisor.run, name=f"zone-job-{job_id[:16]}", daemon=True
            )
            handle.thread.start()
        self._refill_if_needed()

    def _take_worker(self) -> Worker:
        """A supervisor's worker: taken from the pool, which is then refilled if needed."""
        worker = self.pool.take()
        with self._lock:
            self._refill_if_needed()
        return worker

    def _refill_if_needed(self) -> None:
        """Refill the pool if a job waits or a slot is free (holding ``_lock``)."""
        if not self._closed and (self._waiting or len(self._running) < self._max_concurrent):
            self.pool.refill()

    def _done(self, handle: JobHandle, exit_code: int | None) -> None:
        """A supervisor finished: post ``exited`` and the terminal event, free the slot."""
        with self._lock:
            del self._running[handle.job_id]
            if exit_code is not None:
                self._post(handle, {"event": EXITED, "exit_code": exit_code})
                if exit_code == 0:
                    handle.decide(error_event("the worker exited without a result"))
                handle.decide(error_event(f"worker exited with code {exit_code}"))
            handle.decide(error_event("the worker could not be started"))
            self._post_terminal(handle)
            self._fill_slots()

    def _post_terminal(self, handle: JobHandle) -> None:
        terminal = handle.terminal
        if terminal is None:
            raise RuntimeError("a job's outcome must be decided before it is posted")
        self._post(handle, terminal)

    def _post(self, handle: JobHandle, event: Event) -> None:
        self._events.put((handle, event))

    def _dispatch(self) -> None:
        while (item := self._events.get()) is not None:
            handle, event = item
            try:
                handle.on_event(handle.job_id, dict(event))
            except Exception:
                log.exception("on_event failed for job %s (%s)", handle.job_id, event["event"])


def _join(handle: JobHandle, timeout: float | None) -> None:
    if handle.thread is not None:
        handle.thread.join(timeout)
