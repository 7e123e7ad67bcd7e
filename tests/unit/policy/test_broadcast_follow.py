"""A replica following another's reload whose own reload fails keeps its set and says so.

The serving set now includes the dataset store, so a follower's reload can fail with
FAILED_PRECONDITION (a damaged store) as well as with invalid files: either way the follower
keeps serving, records ``policy.mismatch`` and goes on following (the thread must not die).
"""

from __future__ import annotations

from typing import Any

import pytest

from zone.errors import FailedPrecondition, Problem, ValidationFailed
from zone.policy.broadcast import Broadcast, record_generation
from zone.state import StateStore


@pytest.mark.parametrize(
    "failure",
    [
        FailedPrecondition("the dataset store is damaged at 'enterprises'; re-import it"),
        ValidationFailed([Problem("policies/a.yaml", 3, "bad")], what="loading policies"),
    ],
    ids=["damaged-store", "invalid-files"],
)
def test_a_failed_follow_is_a_mismatch_not_a_dead_thread(
    store: StateStore, failure: Exception
) -> None:
    mismatches: list[dict[str, Any]] = []

    def reload() -> str:
        raise failure

    follower = Broadcast(store, reload=reload, digest=lambda: "sha256:mine",
                         on_mismatch=mismatches.append, poll_seconds=60)  # fmt: skip
    with store.write() as tx:
        record_generation(tx, "policies", "sha256:theirs", "replica-a")
    assert follower.catch_up() is True
    (record,) = mismatches
    assert (
        record["recorded_digest"] == "sha256:theirs" and record["serving_digest"] == "sha256:mine"
    )
    assert follower.catch_up() is False  # that generation is seen; the next one is followed
