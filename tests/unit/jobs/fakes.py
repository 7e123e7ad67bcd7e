"""A fake executor for tests of components that drive jobs (scheduler, servicers).

It runs nothing: it records what it was asked (``calls``) and the test decides what each job
does (``run``, ``emit``, ``succeed``, ``fail``, ``crash``). Like the real executor it never
calls ``on_event`` from inside ``start``/``cancel``/``shutdown``: those only queue events, and
``deliver()`` hands them over (the real executor delivers on its own thread). The events it
produces follow the protocol of ``zone.jobs.events``: ``exited`` only after ``started``, one
terminal event, last.

Import it as ``from unit.jobs.fakes import FakeExecutor`` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zone.errors import AlreadyExists, FailedPrecondition
from zone.jobs import OnEvent

Event = dict[str, Any]


@dataclass
class FakeJob:
    job_id: str
    target: str
    payload: str
    on_event: OnEvent
    started: bool = False
    events: list[Event] = field(default_factory=list)


class FakeExecutor:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.jobs: dict[str, FakeJob] = {}
        self.closed = False
        self._pending: list[tuple[FakeJob, Event]] = []

    # The Executor interface.
    def start(self, job_id: str, target: str, payload: str, on_event: OnEvent) -> None:
        self.calls.append(("start", job_id, target, payload))
        if self.closed:
            raise FailedPrecondition("the executor is shut down")
        if job_id in self.jobs:
            raise AlreadyExists("the job is running already")
        self.jobs[job_id] = FakeJob(job_id, target, payload, on_event)

    def cancel(self, job_id: str) -> bool:
        self.calls.append(("cancel", job_id))
        job = self.jobs.get(job_id)
        if job is None:
            return False
        self._end(job, {"event": "cancelled"}, exit_code=-15, queue=True)
        return True

    def active(self) -> set[str]:
        return set(self.jobs)

    def shutdown(self, grace: float) -> None:
        self.calls.append(("shutdown", grace))
        self.closed = True
        for job in list(self.jobs.values()):
            reason = "the executor shut down " + (
                "while the job ran" if job.started else "before the job started"
            )
            self._end(job, {"event": "error", "reason": reason}, exit_code=-15, queue=True)
        self.deliver()

    # What the test makes jobs do.
    def deliver(self) -> None:
        pending, self._pending = self._pending, []
        for job, event in pending:
            self._send(job, event)

    def run(self, job_id: str) -> None:
        job = self.jobs[job_id]
        assert not job.started, "a job starts once"
        job.started = True
        self._send(job, {"event": "started"})

    def emit(self, job_id: str, event: Event) -> None:
        job = self.jobs[job_id]
        assert job.started, "only a started worker emits"
        assert event["event"] not in {"started", "exited", "cancelled", "result", "error"}
        self._send(job, event)

    def succeed(self, job_id: str, **result: Any) -> None:
        self._end(self.jobs[job_id], {"event": "result", **result}, exit_code=0)

    def fail(self, job_id: str, reason: str) -> None:
        self._end(self.jobs[job_id], {"event": "error", "reason": reason}, exit_code=1)

    def crash(self, job_id: str, exit_code: int = -9) -> None:
        reason = f"worker exited with code {exit_code}"
        self._end(self.jobs[job_id], {"event": "error", "reason": reason}, exit_code=exit_code)

    def _end(self, job: FakeJob, terminal: Event, *, exit_code: int, queue: bool = False) -> None:
        del self.jobs[job.job_id]
        events = [{"event": "exited", "exit_code": exit_code}] if job.started else []
        for event in [*events, terminal]:
            if queue:
                self._pending.append((job, event))
            else:
                self._send(job, event)

    def _send(self, job: FakeJob, event: Event) -> None:
        job.events.append(event)
        job.on_event(job.job_id, dict(event))
