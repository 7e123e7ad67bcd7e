"""The job state machine: states, the allowed transitions as a set of pairs, and the check.

A job is created ``queued``; it becomes ``running`` when its worker process starts and ends in
exactly one terminal state. Every legal move is listed in ``TRANSITIONS``; anything else is
refused with ``IllegalTransition``, so no state is ever derived through if/elif chains.

```
queued ──> running ──> succeeded
  │  │        ├──────> failed
  │  │        └──────> cancelled
  │  └───────────────> failed      (refused before start, e.g. the worker could not start)
  └──────────────────> cancelled   (cancelled while waiting for a worker slot)
```
"""

from __future__ import annotations

import enum

from zone.errors import FailedPrecondition


class JobState(enum.Enum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TRANSITIONS: frozenset[tuple[JobState, JobState]] = frozenset(
    {
        (JobState.QUEUED, JobState.RUNNING),
        (JobState.QUEUED, JobState.CANCELLED),
        (JobState.QUEUED, JobState.FAILED),
        (JobState.RUNNING, JobState.SUCCEEDED),
        (JobState.RUNNING, JobState.FAILED),
        (JobState.RUNNING, JobState.CANCELLED),
    }
)
"""Every allowed ``(from, to)`` move; no other move is possible."""

TERMINAL: frozenset[JobState] = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
"""States a job never leaves."""

ACTIVE: frozenset[JobState] = frozenset({JobState.QUEUED, JobState.RUNNING})
"""States of a job that has not finished yet."""


def is_valid_transition(current: JobState, target: JobState) -> bool:
    """Whether a job in state ``current`` may move to state ``target``.

    Args:
        current: The job's state now.
        target: The state asked for.

    Returns:
        True exactly when ``(current, target)`` is in ``TRANSITIONS``.
    """
    return (current, target) in TRANSITIONS


class IllegalTransition(FailedPrecondition):
    """A job was asked to move along a pair that is not in ``TRANSITIONS``."""

    def __init__(self, current: JobState, target: JobState) -> None:
        super().__init__(
            f"job is {current.value}; cannot move to {target.value}",
            reason="illegal_transition",
        )
        self.current = current
        self.target = target
