"""Jobs: the state machine table, the job store and model registry, executors.

Nothing here imports torch or grpc: the server imports this package, and training code runs
only inside worker processes, which import their target by name.
"""

from __future__ import annotations

from zone.jobs.events import Emit, Event, OnEvent
from zone.jobs.executor import Executor, LocalProcessExecutor
from zone.jobs.records import Job
from zone.jobs.states import (
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    JobState,
    is_valid_transition,
)
from zone.jobs.store import JobStore

__all__ = [
    "TERMINAL",
    "TRANSITIONS",
    "Emit",
    "Event",
    "Executor",
    "IllegalTransition",
    "Job",
    "JobState",
    "JobStore",
    "LocalProcessExecutor",
    "OnEvent",
    "is_valid_transition",
]
