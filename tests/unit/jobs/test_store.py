from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from zone.audit import AuditChain, AuditEntry, verify_file
from zone.errors import InvalidArgument, NotFound
from zone.jobs import TRANSITIONS, IllegalTransition, Job, JobState, JobStore
from zone.state import StateStore

SPEC = {"epochs": 3, "learning_rate": 0.5, "epsilon": 1.0}

# A legal path from QUEUED to each state.
PATHS: dict[JobState, list[JobState]] = {
    JobState.QUEUED: [],
    JobState.RUNNING: [JobState.RUNNING],
    JobState.SUCCEEDED: [JobState.RUNNING, JobState.SUCCEEDED],
    JobState.FAILED: [JobState.FAILED],
    JobState.CANCELLED: [JobState.CANCELLED],
}


def new_job(jobs: JobStore, principal: str = "bank-a", **kw: Any) -> Job:
    return jobs.create(
        principal=principal,
        product="enterprise-default-lr",
        dataset="enterprises",
        spec=kw.pop("spec", SPEC),
        release_id=kw.pop("release_id", "r-1"),
        **kw,
    )


def job_in(jobs: JobStore, state: JobState) -> Job:
    job = new_job(jobs)
    for step in PATHS[state]:
        job = jobs.transition(job.job_id, step)
    assert job.state is state
    return job


def kinds(audit: AuditChain) -> list[str]:
    return [e.kind for e in audit.entries()]


def records(audit: AuditChain, kind: str) -> list[AuditEntry]:
    return [e for e in audit.entries() if e.kind == kind]


def test_create_stores_a_queued_job_and_audits_it(jobs: JobStore, audit: AuditChain) -> None:
    job = new_job(jobs)
    assert job.state is JobState.QUEUED
    assert len(job.job_id) == 32 and int(job.job_id, 16) >= 0
    assert dict(job.spec) == SPEC and job.result is None
    assert (job.release_id, job.touched_data, job.epoch, job.epsilon_spent) == ("r-1", False, 0, 0)
    assert job.started_at is None and job.finished_at is None
    assert jobs.get(job.job_id) == job
    [entry] = records(audit, "job.created")
    assert entry.record["job_id"] == job.job_id
    assert entry.record["principal"] == "bank-a"
    assert entry.record["spec"] == SPEC


def test_job_fields_are_read_only(jobs: JobStore) -> None:
    job = new_job(jobs)
    with pytest.raises(TypeError):
        job.spec["epochs"] = 99  # type: ignore[index]


def test_spec_must_be_a_json_object(jobs: JobStore, audit: AuditChain) -> None:
    with pytest.raises(InvalidArgument):
        new_job(jobs, spec={"epsilon": float("nan")})
    with pytest.raises(InvalidArgument):
        new_job(jobs, spec=["not", "an", "object"])
    assert jobs.list() == [] and kinds(audit) == []


@pytest.mark.parametrize(("current", "target"), list(itertools.product(JobState, JobState)))
def test_every_pair_is_allowed_or_refused_by_the_table(
    jobs: JobStore, audit: AuditChain, current: JobState, target: JobState
) -> None:
    job = job_in(jobs, current)
    before = len(audit.entries())
    if (current, target) in TRANSITIONS:
        moved = jobs.transition(job.job_id, target, reason="why")
        assert moved.state is target and moved.reason == "why"
        entry = audit.entries()[-1]
        assert entry.kind == "job.transition"
        assert (entry.record["from"], entry.record["state"]) == (current.value, target.value)
        assert len(audit.entries()) == before + 1
    else:
        with pytest.raises(IllegalTransition) as refused:
            jobs.transition(job.job_id, target)
        assert refused.value.message == f"job is {current.value}; cannot move to {target.value}"
        assert jobs.get(job.job_id) == job
        assert len(audit.entries()) == before


def test_timestamps_result_and_touched_follow_the_moves(jobs: JobStore) -> None:
    job = new_job(jobs)
    running = jobs.transition(job.job_id, JobState.RUNNING, touched_data=True)
    assert running.started_at is not None and running.finished_at is None
    assert running.touched_data
    done = jobs.transition(
        job.job_id, JobState.SUCCEEDED, result={"accuracy": 0.8}, touched_data=False
    )
    assert done.finished_at is not None and done.started_at == running.started_at
    assert dict(done.result or {}) == {"accuracy": 0.8}
    assert done.touched_data  # never undone


def test_unknown_job_is_not_found(jobs: JobStore) -> None:
    with pytest.raises(NotFound):
        jobs.get("nope")
    with pytest.raises(NotFound):
        jobs.transition("nope", JobState.RUNNING)
    with pytest.raises(NotFound):
        jobs.mark_touched("nope")
    with pytest.raises(NotFound):
        jobs.progress("nope", 1, 0.1)


def race(jobs: JobStore, job_id: str, targets: list[JobState]) -> tuple[list[JobState], int]:
    """Move one job to each target from its own thread, all at once; return winners, losers."""
    barrier = threading.Barrier(len(targets))
    won: list[JobState] = []
    lost: list[IllegalTransition] = []
    lock = threading.Lock()

    def move(target: JobState) -> None:
        barrier.wait()
        try:
            jobs.transition(job_id, target)
        except IllegalTransition as exc:
            with lock:
                lost.append(exc)
        else:
            with lock:
                won.append(target)

    threads = [threading.Thread(target=move, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won, len(lost)


@pytest.mark.parametrize(
    ("start", "first", "second"),
    [
        (JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED),
        (JobState.RUNNING, JobState.CANCELLED, JobState.SUCCEEDED),
        (JobState.QUEUED, JobState.RUNNING, JobState.RUNNING),
    ],
)
def test_concurrent_moves_out_of_one_state_have_one_winner(
    jobs: JobStore, audit: AuditChain, start: JobState, first: JobState, second: JobState
) -> None:
    targets = [first, second] * 4
    for _ in range(5):
        job = job_in(jobs, start)
        won, lost = race(jobs, job.job_id, targets)
        assert len(won) == 1 and lost == len(targets) - 1
        assert jobs.get(job.job_id).state is won[0]
        moves = [e for e in records(audit, "job.transition") if e.record["job_id"] == job.job_id]
        assert [e.record["state"] for e in moves] == [s.value for s in PATHS[start]] + [
            won[0].value
        ]


def test_a_transition_in_a_failed_transaction_leaves_no_trace(
    store: StateStore, jobs: JobStore, audit: AuditChain
) -> None:
    job = new_job(jobs)
    before = audit.entries()
    with pytest.raises(RuntimeError, match="boom"), store.write() as conn:
        jobs.transition(job.job_id, JobState.RUNNING, conn=conn)
        raise RuntimeError("boom")
    assert jobs.get(job.job_id) == job
    assert audit.entries() == before


class FailingAudit(AuditChain):
    def append(self, kind: str, record: Any, **kw: Any) -> AuditEntry:
        raise OSError("disk full")


def test_a_state_change_whose_audit_record_fails_is_rolled_back(
    store: StateStore, jobs: JobStore
) -> None:
    job = new_job(jobs)
    broken = JobStore(store, FailingAudit(store))
    with pytest.raises(OSError, match="disk full"):
        broken.transition(job.job_id, JobState.RUNNING)
    with pytest.raises(OSError, match="disk full"):
        broken.mark_touched(job.job_id)
    assert jobs.get(job.job_id) == job


def test_create_inside_a_caller_transaction_that_rolls_back_leaves_nothing(
    store: StateStore, jobs: JobStore, audit: AuditChain
) -> None:
    with pytest.raises(RuntimeError, match="budget"), store.write() as conn:
        job = new_job(jobs, conn=conn)
        assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 1
        raise RuntimeError("budget refused")
    assert jobs.list() == [] and kinds(audit) == []
    with pytest.raises(NotFound):
        jobs.get(job.job_id)


def test_create_inside_a_caller_transaction_commits_with_it(
    store: StateStore, jobs: JobStore, audit: AuditChain
) -> None:
    with store.write() as conn:
        audit.append("ledger.charge", {"release_id": "r-9"}, conn=conn)
        job = new_job(jobs, conn=conn, release_id="r-9")
    assert jobs.get(job.job_id).release_id == "r-9"
    assert kinds(audit) == ["ledger.charge", "job.created"]


def test_conn_must_be_inside_an_open_transaction(store: StateStore, jobs: JobStore) -> None:
    with pytest.raises(RuntimeError):
        new_job(jobs, conn=store.conn)


def test_list_is_newest_first_and_filters_by_principal(jobs: JobStore) -> None:
    made = [new_job(jobs, principal=p) for p in ["a", "b", "a", "c", "a"]]
    assert [j.job_id for j in jobs.list()] == [j.job_id for j in reversed(made)]
    assert [j.job_id for j in jobs.list("a")] == [made[4].job_id, made[2].job_id, made[0].job_id]
    assert [j.job_id for j in jobs.list("a", limit=2)] == [made[4].job_id, made[2].job_id]
    assert jobs.list("nobody") == []
    for bad in (0, 1001):
        with pytest.raises(InvalidArgument):
            jobs.list(limit=bad)


def test_running_lists_unfinished_jobs_oldest_first(jobs: JobStore) -> None:
    queued = job_in(jobs, JobState.QUEUED)
    running = job_in(jobs, JobState.RUNNING)
    for state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED):
        job_in(jobs, state)
    assert [j.job_id for j in jobs.running()] == [queued.job_id, running.job_id]


def test_mark_touched_is_durable_audited_and_idempotent(jobs: JobStore, audit: AuditChain) -> None:
    job = job_in(jobs, JobState.RUNNING)
    assert jobs.mark_touched(job.job_id).touched_data
    assert jobs.mark_touched(job.job_id).touched_data
    assert len(records(audit, "job.touched")) == 1
    cancelled = jobs.transition(job.job_id, JobState.CANCELLED)
    assert cancelled.touched_data


def test_confirm_touched_marks_only_running_jobs_once(jobs: JobStore, audit: AuditChain) -> None:
    queued = new_job(jobs)
    assert not jobs.confirm_touched(queued.job_id)  # not started: nothing may be read yet
    running = job_in(jobs, JobState.RUNNING)
    assert jobs.confirm_touched(running.job_id)
    assert jobs.confirm_touched(running.job_id)  # idempotent: one audit record
    assert [e.record["job_id"] for e in records(audit, "job.touched")] == [running.job_id]
    for state in (JobState.FAILED, JobState.CANCELLED, JobState.SUCCEEDED):
        ended = job_in(jobs, state)
        assert not jobs.confirm_touched(ended.job_id)  # ended: its worker must not read
        assert not jobs.get(ended.job_id).touched_data
    assert not jobs.get(queued.job_id).touched_data
    with pytest.raises(NotFound):
        jobs.confirm_touched("nope")


def test_progress_updates_only_running_jobs(jobs: JobStore, audit: AuditChain) -> None:
    job = new_job(jobs)
    assert not jobs.progress(job.job_id, 1, 0.1)
    jobs.transition(job.job_id, JobState.RUNNING)
    before = len(audit.entries())
    assert jobs.progress(job.job_id, 2, 0.25)
    got = jobs.get(job.job_id)
    assert (got.epoch, got.epsilon_spent) == (2, 0.25)
    assert len(audit.entries()) == before  # informational, not audited
    for epoch, eps in [(-1, 0.1), (1, -0.1), (1, float("nan")), (1, float("inf"))]:
        with pytest.raises(InvalidArgument):
            jobs.progress(job.job_id, epoch, eps)
    jobs.transition(job.job_id, JobState.SUCCEEDED)
    assert not jobs.progress(job.job_id, 3, 0.3)
    assert jobs.get(job.job_id).epoch == 2


def test_the_audit_chain_verifies_after_job_activity(store: StateStore, jobs: JobStore) -> None:
    for state in JobState:
        job_in(jobs, state)
    result = verify_file(store.path)
    assert result.ok and result.length > 0
