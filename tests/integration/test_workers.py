"""Training on worker machines: a real zone, real ``zone worker`` processes, real PostgreSQL.

The zone (in this process) queues jobs through procrastinate in its PostgreSQL state; ``zone
worker`` child processes take them, train with Opacus in their own children, and settle every
job through the state database. Workers are killed with SIGKILL the way a machine is lost.

The module's tests run in file order on one zone and share its two workers, started together
and without warm children (a warm child's torch import and warm-up, repeated after every job,
cost more CPU than each job's child importing torch itself: the tests share 2 cores): jobs,
cancel, a drained worker; then the last worker killed after its job read data and another
killed before its job read any, each settled by the replica with no worker left alive. The
queue keeper's own rules, pruning, atomic queueing and the touched-mark race are in
``test_workers_queue.py``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pgkit import Cluster, fresh_database
from workerkit import (
    FAST,
    MEDIUM,
    PRODUCT,
    SLOW,
    STALLED,
    Setup,
    Worker,
    maps_torch,
    start_worker,
    stop_worker,
    wait_for,
    worker_config,
    zone_with_workers,
)
from zonekit import make_zone_dir, running_zone, serve_process, target

from zone.audit import verify_chain
from zone.client import ZoneClient
from zone.config import load_config
from zone.errors import ValidationFailed


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, pg_cluster: Cluster) -> Iterator[Setup]:
    with fresh_database(pg_cluster, "template0") as url:
        with zone_with_workers(tmp_path_factory.mktemp("workers"), url, 2) as running:
            yield running


def test_jobs_run_on_workers_once_each_and_release_with_their_receipts(setup: Setup) -> None:
    with ZoneClient(target(setup.zone), token=setup.token) as client:
        jobs = [client.train(PRODUCT, epsilon=1.0, delta=1e-6, **FAST) for _ in range(2)]
        results = [job.result() for job in jobs]
    for job, result in zip(jobs, results, strict=True):
        assert setup.charge_states(job.job_id) == ["released"]
        assert setup.transitions(job.job_id) == ["running", "succeeded"]  # by one worker, once
        registered = setup.zone.services.releases.get(result.release_id)
        assert registered.artifact["weights"] == list(result.weights)
        assert registered.receipt["output_digest"] == result.output_digest
        assert registered.receipt["dataset_version"].startswith("sha256:")
        assert result.epsilon_training + result.epsilon_metrics <= 1.0 + 1e-9
        # The worker's task settles the zone's job, then returns; procrastinate marks its own
        # job succeeded after that, so the caller can see the result first: read at once after
        # the result, 3 of 8 jobs were still 'doing' (measured), the cause of this test's
        # reported failure (the 10 runs of the old test here passed: it read after two jobs).
        wait_for(lambda j=job.job_id: setup.queue_status(j) == ["succeeded"], timeout=30)
    queued = setup.read(
        "SELECT attempts FROM procrastinate_jobs WHERE lock IN (?, ?)",
        tuple(job.job_id for job in jobs),
    )
    assert sorted(int(str(r[0])) for r in queued) == [1, 1]
    for worker in setup.workers:  # torch lives in their job children only
        assert not maps_torch(worker.proc.pid)


def test_cancel_stops_a_running_job_on_its_worker(setup: Setup) -> None:
    with ZoneClient(target(setup.zone), token=setup.token) as client:
        job = client.train(PRODUCT, epsilon=1.0, delta=1e-6, **SLOW)
        wait_for(lambda: setup.touched(job.job_id))
        job.cancel()
        wait_for(lambda: job.status().done, timeout=30)
        assert job.last.state == "CANCELLED"
    assert setup.charge_states(job.job_id) == ["failed"]  # it had read data: charged


def test_sigterm_drains_a_worker_and_its_running_job_is_not_reaped(setup: Setup) -> None:
    with ZoneClient(target(setup.zone), token=setup.token) as client:
        job = client.train(PRODUCT, epsilon=1.0, delta=1e-6, **MEDIUM)
        wait_for(lambda: setup.touched(job.job_id))
        draining = _worker_running(setup, job.job_id)
        draining.proc.send_signal(signal.SIGTERM)
        final = job.wait()
    assert final.state == "SUCCEEDED", final.reason
    assert draining.proc.wait(timeout=60) == 0
    setup.workers.remove(draining)
    assert setup.charge_states(job.job_id) == ["released"]
    # Without the heartbeat kept while draining, the other worker or the replica reaps the job
    # STALLED seconds after the SIGTERM (checked with a 30-epoch job: FAILED). This 20-epoch
    # job ran 5.2 s past the SIGTERM here, more than STALLED plus a keeper's round.


def test_a_worker_killed_after_its_job_read_data_is_charged_once_with_no_worker_left(
    setup: Setup,
) -> None:
    with ZoneClient(target(setup.zone), token=setup.token) as client:
        job = client.train(PRODUCT, epsilon=1.0, delta=1e-6, **SLOW)
        wait_for(lambda: setup.touched(job.job_id))
        victim = _worker_running(setup, job.job_id)
        _kill(setup, victim)
        assert not any(w.proc.poll() is None for w in setup.workers)  # the replica reaps alone
        started = time.monotonic()
        wait_for(lambda: job.status().done, timeout=15 * STALLED)
        final = job.last
    assert final.state == "FAILED" and "worker was lost" in final.reason
    assert time.monotonic() - started < 8 * STALLED
    assert setup.charge_states(job.job_id) == ["failed"]  # touched: charged, once
    assert setup.transitions(job.job_id) == ["running", "failed"]
    assert setup.queue_status(job.job_id) == ["failed"]  # not retried: no worker runs it again
    with setup.zone.services.store.read() as tx:
        assert verify_chain(tx).ok


def test_a_worker_killed_before_its_job_read_data_is_refunded(setup: Setup) -> None:
    """The touched mark is durable before any read, so a RUNNING job not marked is refunded.

    A worker without a warm child starts one for the job (it imports torch, then calibrates:
    seconds in which the job is RUNNING and has read nothing); it is killed in that window.
    Before the mark was made durable, such a job was charged.
    """
    config = worker_config(setup, "cold-worker.yaml")
    cold = start_worker(config, config.parent / "cold-worker.log")
    setup.workers.append(cold)
    with ZoneClient(target(setup.zone), token=setup.token) as client:
        job = client.train(PRODUCT, epsilon=1.0, delta=1e-6, **FAST)
        wait_for(lambda: job.status().state == "RUNNING")
        _kill(setup, cold)
        assert not setup.touched(job.job_id)  # its child died with it, before reading
        wait_for(lambda: job.status().done, timeout=15 * STALLED)
        final = job.last
    assert final.state == "FAILED" and "worker was lost" in final.reason
    assert setup.charge_states(job.job_id) == ["refunded"]
    assert setup.transitions(job.job_id) == ["running", "failed"]
    assert setup.queue_status(job.job_id) == ["failed"]


def _kill(setup: Setup, worker: Worker) -> None:
    os.kill(worker.proc.pid, signal.SIGKILL)  # its training child dies with it
    worker.proc.wait()
    setup.workers.remove(worker)


def _worker_running(setup: Setup, job_id: str) -> Worker:
    return next(w for w in setup.workers if f"job {job_id}: running on this worker" in w.text())


def test_jobs_on_workers_outlive_their_replica_and_a_stale_dataset_copy_is_refused(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    sweep = "state:\n  orphan_sweep_seconds: 0.5\n"  # replicas settle dead replicas' work
    with fresh_database(pg_cluster, "template0") as url:
        with zone_with_workers(tmp_path / "zone", url, 0, sweep) as running:
            with ZoneClient(target(running.zone), token=running.token) as client:
                waiting = client.train(PRODUCT, epsilon=1.0, delta=1e-6, **FAST)
                assert waiting.cancel().state == "CANCELLED"  # no worker had it: refunded
                assert running.charge_states(waiting.job_id) == ["refunded"]
            config = running.zone.services.config.source
            replica, address = serve_process(config)  # a second replica takes the job, dies
            assert not maps_torch(replica.pid)  # a replica never imports torch
            with ZoneClient(address, token=running.token) as client:
                stale = client.train(PRODUCT, epsilon=1.0, delta=1e-6, **FAST)
            replica.kill()
            replica.wait()
            assert replica.stdout is not None
            replica.stdout.close()
            time.sleep(2.5)  # five orphan sweeps and two queue keepings of the live replica
            assert running.zone.services.training._jobs.get(stale.job_id).state.value == "queued"
            assert running.charge_states(stale.job_id) == ["reserved"]  # not the dead one's
            other = make_zone_dir(tmp_path / "other", rows=500)  # the same dataset, other rows
            stale_config = worker_config(
                running, "stale-worker.yaml", datasets_db=other.parent / "datasets.duckdb"
            )
        with running_zone(config) as zone:  # alone on the state: it settles left-over work
            again = Setup(zone, running.token, [])
            assert zone.services.interrupted_jobs == 0
            assert zone.services.interrupted_charges == 0
            assert again.charge_states(stale.job_id) == ["reserved"]  # left to the workers
            worker = start_worker(stale_config, tmp_path / "stale.log")
            try:
                with ZoneClient(target(zone), token=running.token) as client:
                    wait_for(lambda: client.get_job(stale.job_id).done, timeout=60)
                    final = client.get_job(stale.job_id)
            finally:
                stop_worker(worker)
            assert final.state == "FAILED" and "dataset version" in final.reason
            assert again.charge_states(stale.job_id) == ["refunded"]  # before any read


def test_procrastinate_needs_a_postgresql_state(tmp_path: Path) -> None:
    config = tmp_path / "zone.yaml"
    config.write_text(
        "datasets_db: d\nstate_db: state.sqlite\nmodels_dir: m\npolicies_dir: p\n"
        "jobs:\n  executor: procrastinate\n"
    )
    with pytest.raises(ValidationFailed, match="jobs.executor: procrastinate"):
        load_config(config)
