from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from zone.audit import AuditChain, verify_file
from zone.jobs import IllegalTransition, JobState, JobStore, is_valid_transition
from zone.state import StateStore


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(list(JobState)), max_size=6))
def test_the_store_follows_the_table_and_audits_each_accepted_move(
    moves: list[JobState],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "zone.db"
        with StateStore.open(path) as store:
            audit = AuditChain(store)
            jobs = JobStore(store, audit)
            job = jobs.create(principal="p", product="x", dataset="d", spec={}, release_id="")
            expected, accepted = JobState.QUEUED, 0
            for target in moves:
                try:
                    jobs.transition(job.job_id, target)
                except IllegalTransition:
                    assert not is_valid_transition(expected, target)
                else:
                    assert is_valid_transition(expected, target)
                    expected, accepted = target, accepted + 1
                assert jobs.get(job.job_id).state is expected
            kinds = [e.kind for e in audit.entries()]
            assert kinds == ["job.created"] + ["job.transition"] * accepted
        assert verify_file(path).ok
