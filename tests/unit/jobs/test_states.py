from __future__ import annotations

import itertools

import pytest

from zone.errors import FailedPrecondition
from zone.jobs import TERMINAL, TRANSITIONS, IllegalTransition, JobState, is_valid_transition

Q, R, S, F, C = (
    JobState.QUEUED,
    JobState.RUNNING,
    JobState.SUCCEEDED,
    JobState.FAILED,
    JobState.CANCELLED,
)


def test_states_have_lowercase_values() -> None:
    assert [s.value for s in JobState] == [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
    ]


def test_transitions_are_exactly_the_six_pairs() -> None:
    assert frozenset({(Q, R), (Q, C), (Q, F), (R, S), (R, F), (R, C)}) == TRANSITIONS
    assert frozenset({S, F, C}) == TERMINAL


@pytest.mark.parametrize(("current", "target"), list(itertools.product(JobState, JobState)))
def test_is_valid_transition_matches_the_table(current: JobState, target: JobState) -> None:
    assert is_valid_transition(current, target) == ((current, target) in TRANSITIONS)


def test_terminal_states_have_no_way_out() -> None:
    assert not any(a in TERMINAL for a, _ in TRANSITIONS)
    assert all(any(b == t for _, b in TRANSITIONS) for t in TERMINAL)


def test_illegal_transition_is_a_failed_precondition_with_a_plain_message() -> None:
    err = IllegalTransition(S, R)
    assert isinstance(err, FailedPrecondition)
    assert err.message == "job is succeeded; cannot move to running"
    assert err.reason == "illegal_transition"
    assert (err.current, err.target) == (S, R)
