"""The training queue's bookkeeping on a real zone and real PostgreSQL, with no worker process.

A dead worker is a registered procrastinate worker whose heartbeat is old (what a killed
process leaves behind); the zone in this process runs its own queue keeper at the same time as
the tests' explicit rounds, so every settlement below is also raced by a second keeper.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pgkit import Cluster, fresh_database
from workerkit import FAST, PRODUCT, READS, STALLED, Setup, zone_with_workers
from zonekit import target

from zone.client import InternalError, ZoneClient
from zone.client.jobs import JobHandle
from zone.jobs import JobState
from zone.jobs.reaper import QueueKeeper
from zone.jobs.records import lock_job
from zone.jobs.remote import QUEUE, TASK, queue_app
from zone.state.location import PostgresUrl
from zone.worker import child


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, pg_cluster: Cluster) -> Iterator[Setup]:
    with fresh_database(pg_cluster, "template0") as url:
        with zone_with_workers(tmp_path_factory.mktemp("queue"), url, 0) as running:
            yield running


@contextmanager
def _keeper(setup: Setup, keep_hours: float = 168.0) -> Iterator[QueueKeeper]:
    """A second keeper, as another replica or worker runs it, beside the zone's own."""
    training = setup.zone.services.training
    with queue_app(_url(setup), asynchronous=False).open() as app:
        yield QueueKeeper(
            app,
            queue=QUEUE,
            task=TASK,
            lost=training.lost,
            unfinished=training._unfinished_on_workers,
            stalled_seconds=STALLED,
            keep_finished_hours=keep_hours,
        )


def _url(setup: Setup) -> str:
    location = setup.zone.services.config.state_db
    assert isinstance(location, PostgresUrl)
    return location.url


def _heartbeats(setup: Setup, dead: int) -> None:
    """The dead worker's last heartbeat an hour ago, every other one's an hour ahead."""
    with setup.zone.services.store.write() as tx:
        tx.execute(
            "UPDATE procrastinate_workers SET last_heartbeat = CASE WHEN id = ? "
            "THEN now() - interval '1 hour' ELSE now() + interval '1 hour' END",
            (dead,),
        )


def test_keepers_settle_a_dead_workers_jobs_and_orphans_once_and_prune_finished_entries(
    setup: Setup,
) -> None:
    """A worker that took three jobs dies: the one it had not started is refunded, the one it
    started but had not let read data is refunded, the one that read data is charged; a job no
    queue entry holds is refunded; each once, whichever keeper gets there. Pruning then deletes
    the finished entries and keeps the waiting and running ones."""
    with ZoneClient(target(setup.zone), token=setup.token) as client:
        queued, unread, read, orphan, live, waiting = (
            client.train(PRODUCT, epsilon=1.0, delta=1e-6, **FAST) for _ in range(6)
        )
    jobs = setup.zone.services.training._jobs
    dead = asyncio.run(_take(_url(setup), orphan.job_id, live.job_id))
    jobs.transition(unread.job_id, JobState.RUNNING)  # their "started" events were handled
    jobs.transition(read.job_id, JobState.RUNNING)
    assert jobs.confirm_touched(read.job_id)  # its child was let read
    with setup.zone.services.store.write() as tx:  # the orphan is older than stalled_seconds
        tx.execute("UPDATE jobs SET created_at = '2000-01-01T00:00:00+00:00' WHERE job_id = ?",
                   (orphan.job_id,))  # fmt: skip
    _heartbeats(setup, dead)  # the worker holding three jobs dies
    with _keeper(setup, keep_hours=0.5) as keeper:
        ended = [keeper.reap() for _ in range(2)]
        _check_settled(setup, queued, unread, read, orphan, live, waiting)
        keeper.prune()  # finished just now: kept for keep_finished_hours
        assert setup.queue_status(queued.job_id) == ["failed"]
        with setup.zone.services.store.write() as tx:
            tx.execute("UPDATE procrastinate_events SET at = at - interval '1 hour'")
        keeper.prune()
    for job in (queued, unread, read):
        assert setup.queue_status(job.job_id) == []
    assert setup.queue_status(live.job_id) == ["doing"]
    assert setup.queue_status(waiting.job_id) == ["todo"]
    ((events,),) = setup.read(
        "SELECT count(*) FROM procrastinate_events e LEFT JOIN procrastinate_jobs j "
        "ON j.id = e.job_id WHERE j.id IS NULL"
    )
    assert events == 0  # their events went with them
    assert jobs.get(queued.job_id).state is JobState.FAILED  # the zone's records stay
    assert ended[0] <= 4 and ended[1] == 0  # the zone's own keeper may have taken some first


def _check_settled(setup: Setup, *jobs: JobHandle) -> None:
    queued, unread, read, orphan, live, waiting = jobs
    assert setup.charge_states(queued.job_id) == ["refunded"]  # never started
    assert setup.charge_states(unread.job_id) == ["refunded"]  # started, read nothing
    assert setup.charge_states(read.job_id) == ["failed"]  # read data: charged
    assert setup.charge_states(orphan.job_id) == ["refunded"]
    assert setup.transitions(queued.job_id) == ["failed"]
    assert (
        setup.transitions(unread.job_id)
        == setup.transitions(read.job_id)
        == [
            "running",
            "failed",
        ]
    )
    assert setup.transitions(orphan.job_id) == ["failed"]
    for job in (queued, unread, read, orphan):
        final = setup.zone.services.training._jobs.get(job.job_id)
        assert final.state is JobState.FAILED and "worker was lost" in final.reason
    for job in (queued, unread, read):
        assert setup.queue_status(job.job_id) == ["failed"]  # never run again
    assert setup.queue_status(live.job_id) == ["doing"]  # its worker is alive
    assert setup.queue_status(waiting.job_id) == ["todo"]
    assert setup.charge_states(live.job_id) == setup.charge_states(waiting.job_id) == ["reserved"]


async def _take(url: str, orphan: str, live: str) -> int:
    """Drop the orphan's queue entry; a worker takes the next three jobs (its id returned);
    another takes the next one; the last waits."""
    app = queue_app(url, asynchronous=True)
    async with app.open_async():
        manager = app.job_manager
        (entry,) = await manager.list_jobs_async(queue=QUEUE, lock=orphan)
        assert entry.id is not None
        assert await manager.cancel_job_by_id_async(entry.id, delete_job=True)  # never queued
        dead = await manager.register_worker()
        for _ in range(3):
            assert await manager.fetch_job([QUEUE], dead) is not None
        taken = await manager.fetch_job([QUEUE], await manager.register_worker())
        assert taken is not None and taken.lock == live
        return dead


def test_a_job_is_queued_if_and_only_if_its_budget_is_reserved(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue entry is written in the reservation's transaction: a replica that dies after
    queueing and before committing leaves neither (before, it left a reserved job with no queue
    entry, or a queue entry with no job)."""
    queue = setup.zone.services.training._queue
    assert queue is not None
    original = queue.queue_in

    def dies_before_commit(*args: object) -> None:
        original(*args)  # type: ignore[arg-type]
        raise RuntimeError("the replica died between queueing and committing")

    def counts() -> tuple[object, ...]:
        return setup.read(
            "SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM charges), "
            "(SELECT count(*) FROM procrastinate_jobs)"
        )[0]

    before = counts()
    monkeypatch.setattr(queue, "queue_in", dies_before_commit)
    with ZoneClient(target(setup.zone), token=setup.token) as client:
        with pytest.raises(InternalError):
            client.train(PRODUCT, epsilon=1.0, delta=1e-6, **FAST)
        assert counts() == before
        monkeypatch.undo()
        job = client.train(PRODUCT, epsilon=1.0, delta=1e-6, **FAST)
    assert setup.queue_status(job.job_id) == ["todo"]
    assert setup.charge_states(job.job_id) == ["reserved"]


def test_a_settlement_in_progress_holds_back_the_touched_mark(setup: Setup) -> None:
    """A job's child asks to read while a keeper settles the job: it waits for the settlement
    and is refused, so a refunded job is never read (and a marked one is never refunded)."""
    with ZoneClient(target(setup.zone), token=setup.token) as client:
        job = client.train(PRODUCT, epsilon=1.0, delta=1e-6, **FAST)
    jobs = setup.zone.services.training._jobs
    jobs.transition(job.job_id, JobState.RUNNING)
    answers: list[bool] = []
    child = threading.Thread(target=lambda: answers.append(jobs.confirm_touched(job.job_id)))
    with setup.zone.services.store.write() as tx:
        assert not lock_job(tx, job.job_id).touched_data  # what the settlement decides on
        child.start()
        time.sleep(1.0)
        assert child.is_alive() and answers == []  # it waits for the row
        jobs.transition(job.job_id, JobState.FAILED, reason="reaped", conn=tx)
    child.join(timeout=30)
    assert answers == [False]
    assert not jobs.get(job.job_id).touched_data

    with ZoneClient(target(setup.zone), token=setup.token) as client:
        marked = client.train(PRODUCT, epsilon=1.0, delta=1e-6, **FAST)
    jobs.transition(marked.job_id, JobState.RUNNING)
    assert jobs.confirm_touched(marked.job_id)
    assert setup.zone.services.training.lost(marked.job_id)
    assert setup.charge_states(marked.job_id) == ["failed"]  # marked first: charged
    assert not jobs.confirm_touched(marked.job_id)  # ended: nothing more may be read


def test_a_dead_workers_entry_with_no_zone_job_is_finished_and_the_round_goes_on(
    setup: Setup,
) -> None:
    """A queue entry whose zone job is unknown is finished; the keeper goes on."""

    async def stray() -> int:
        app = queue_app(_url(setup), asynchronous=True)
        async with app.open_async():
            await app.configure_task(
                TASK,
                queue=QUEUE,
                lock="no-such-job",
                priority=100,  # taken before the others
            ).defer_async(job_id="no-such-job", target="x.y:z", payload="{}")
            dead = await app.job_manager.register_worker()
            taken = await app.job_manager.fetch_job([QUEUE], dead)
            assert taken is not None and taken.lock == "no-such-job"
            return dead

    _heartbeats(setup, asyncio.run(stray()))
    with _keeper(setup) as keeper:
        keeper.reap()
    assert setup.queue_status("no-such-job") == ["failed"]


def test_a_jobs_child_reads_only_after_its_mark_is_committed_and_never_for_an_ended_job(
    setup: Setup,
) -> None:
    """``zone.worker.child``: the target's read follows the committed mark; a job that ended
    before the read is refused, and its target stops before reading."""
    with ZoneClient(target(setup.zone), token=setup.token) as client:
        running, ended = (client.train(PRODUCT, epsilon=1.0, delta=1e-6, **FAST) for _ in range(2))
    jobs = setup.zone.services.training._jobs
    jobs.transition(running.job_id, JobState.RUNNING)
    jobs.transition(ended.job_id, JobState.RUNNING)
    assert setup.zone.services.training.lost(ended.job_id)  # reaped before its child read
    READS.clear()
    events: list[dict[str, object]] = []

    def run(job_id: str) -> None:
        child.run(
            child.wrap(
                target="workerkit:read_after_touch",
                payload=f"{_url(setup)} {job_id}",
                job_id=job_id,
                state_url=_url(setup),
            ),
            events.append,
        )

    run(running.job_id)
    assert READS == [True] and events == [{"event": "touched_data"}]
    with pytest.raises(child.JobEnded):
        run(ended.job_id)
    assert READS == [True] and len(events) == 1  # nothing read, nothing announced
    assert setup.charge_states(ended.job_id) == ["refunded"]
    assert not jobs.get(ended.job_id).touched_data
