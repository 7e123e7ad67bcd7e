"""Training on worker machines: a real zone, real ``zone worker`` processes, real PostgreSQL.

The zone (in this process) queues jobs through procrastinate in its PostgreSQL state; ``zone
worker`` child processes take them, train with Opacus in their own children, and settle every
job through the state database. Workers are killed with SIGKILL the way a machine is lost.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from pgkit import Cluster, fresh_database
from zonekit import REPO, add_principal, make_zone_dir, running_zone, serve_process, target

from zone.audit import verify_chain
from zone.client import ZoneClient
from zone.config import load_config
from zone.errors import ValidationFailed
from zone.jobs import JobState
from zone.jobs.remote import QUEUE, queue_app
from zone.server.app import RunningZone
from zone.worker.loop import reap
from zone.worker.runner import WorkerServices, build

PRODUCT = "enterprise-default-lr"
FAST = {"epochs": 2, "batch_size": 256}
SLOW = {"epochs": 30, "batch_size": 64}
STALLED = 3  # seconds without a heartbeat before a worker counts as dead
WORKERS = f"jobs:\n  executor: procrastinate\n  warm_workers: 1\n  stalled_seconds: {STALLED}\n"


@dataclass
class Worker:
    """One ``zone worker`` child process and its log file."""

    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def start_worker(config: Path, log: Path) -> Worker:
    """``zone worker`` in a child process; returns once it waits for jobs."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "zone.cli", "worker", "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
    worker = Worker(proc, log)
    wait_for(lambda: "waiting for training jobs" in worker.text() or proc.poll() is not None)
    assert proc.poll() is None, worker.text()
    return worker


def stop_worker(worker: Worker) -> None:
    if worker.proc.poll() is None:
        worker.proc.send_signal(signal.SIGTERM)
        try:
            worker.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            worker.proc.wait()


def wait_for(predicate: Callable[[], object], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached")


@dataclass
class Setup:
    zone: RunningZone
    token: str
    workers: list[Worker]

    def read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self.zone.services.store.read() as tx:
            return list(tx.execute(sql, params).fetchall())


@contextmanager
def zone_with_workers(root: Path, url: str, n: int, extra: str = "") -> Iterator[Setup]:
    config = make_zone_dir(root, rows=2000, state_db=url, extra_config=WORKERS + extra)
    token = add_principal(config, "olga", products=(PRODUCT,), epsilon=50.0, delta=1e-5)
    workers: list[Worker] = []  # tests may replace some: every one left is stopped
    try:
        with running_zone(config) as zone:
            workers.extend(start_worker(config, root / f"worker{i}.log") for i in range(n))
            yield Setup(zone, token, workers)
    finally:
        for worker in workers:
            stop_worker(worker)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, pg_cluster: Cluster) -> Iterator[Setup]:
    with fresh_database(pg_cluster, "template0") as url:
        with zone_with_workers(tmp_path_factory.mktemp("workers"), url, 2) as running:
            yield running


def charge_states(setup: Setup, job_id: str) -> list[str]:
    rows = setup.read(
        "SELECT c.state FROM charges c JOIN jobs j ON j.release_id = c.release_id "
        "WHERE j.job_id = ?",
        (job_id,),
    )
    return [str(r[0]) for r in rows]


def audited(setup: Setup, kind: str, job_id: str) -> list[dict[str, object]]:
    entries = setup.zone.services.audit.entries(limit=10_000)
    return [dict(e.record) for e in entries if e.kind == kind and e.record["job_id"] == job_id]


def test_jobs_run_on_workers_once_each_and_release_with_their_receipts(setup: Setup) -> None:
    with ZoneClient(target(setup.zone), token=setup.token) as client:
        jobs = [client.train(PRODUCT, epsilon=1.0, delta=1e-6, **FAST) for _ in range(2)]
        results = [job.result() for job in jobs]
    for job, result in zip(jobs, results, strict=True):
        assert charge_states(setup, job.job_id) == ["released"]
        moves = [r["state"] for r in audited(setup, "job.transition", job.job_id)]
        assert moves == ["running", "succeeded"]  # taken by one worker, once
        registered = setup.zone.services.releases.get(result.release_id)
        assert registered.artifact["weights"] == list(result.weights)
        assert registered.receipt["output_digest"] == result.output_digest
        assert registered.receipt["dataset_version"].startswith("sha256:")
        assert result.epsilon_training + result.epsilon_metrics <= 1.0 + 1e-9
    queued = setup.read(
        "SELECT lock, status, attempts FROM procrastinate_jobs WHERE lock IN (?, ?)",
        tuple(job.job_id for job in jobs),
    )
    assert sorted(str(r[1]) for r in queued) == ["succeeded"] * 2
    assert all(int(str(r[2])) <= 1 for r in queued)


def test_cancel_stops_a_running_job_on_its_worker(setup: Setup) -> None:
    with ZoneClient(target(setup.zone), token=setup.token) as client:
        job = client.train(PRODUCT, epsilon=1.0, delta=1e-6, **SLOW)
        wait_for(lambda: job.status().state == "RUNNING" and job.last.epoch >= 1)
        job.cancel()
        wait_for(lambda: job.status().done, timeout=30)
        assert job.last.state == "CANCELLED"
    assert charge_states(setup, job.job_id) == ["failed"]  # it had read data: charged


def test_a_killed_worker_fails_its_job_once_and_no_one_runs_it_again(setup: Setup) -> None:
    with ZoneClient(target(setup.zone), token=setup.token) as client:
        job = client.train(PRODUCT, epsilon=1.0, delta=1e-6, **SLOW)
        wait_for(lambda: job.status().state == "RUNNING" and job.last.epoch >= 1)
        victim = _worker_running(setup, job.job_id)
        os.kill(victim.proc.pid, signal.SIGKILL)  # its training child dies with it
        victim.proc.wait()
        started = time.monotonic()
        wait_for(lambda: job.status().done, timeout=10 * STALLED)
        final = job.last
    assert final.state == "FAILED" and "worker was lost" in final.reason
    assert time.monotonic() - started < 6 * STALLED
    assert charge_states(setup, job.job_id) == ["failed"]  # touched: charged, once
    assert [r["state"] for r in audited(setup, "job.transition", job.job_id)] == [
        "running",
        "failed",
    ]
    ((status,),) = setup.read("SELECT status FROM procrastinate_jobs WHERE lock = ?", (job.job_id,))
    assert status == "failed"  # not retried: no worker runs it a second time
    with setup.zone.services.store.read() as tx:
        assert verify_chain(tx).ok
    setup.workers.remove(victim)
    setup.workers.append(start_worker(setup.zone.services.config.source, victim.log))


def test_sigterm_drains_a_worker_and_its_running_job_is_not_reaped(setup: Setup) -> None:
    with ZoneClient(target(setup.zone), token=setup.token) as client:
        job = client.train(PRODUCT, epsilon=1.0, delta=1e-6, **SLOW)
        wait_for(lambda: job.status().state == "RUNNING")
        draining = _worker_running(setup, job.job_id)
        draining.proc.send_signal(signal.SIGTERM)
        final = job.wait()
    assert final.state == "SUCCEEDED", final.reason
    assert draining.proc.wait(timeout=60) == 0
    assert charge_states(setup, job.job_id) == ["released"]
    # Without the heartbeat kept while draining, another worker reaps the job STALLED seconds
    # after the SIGTERM (checked: FAILED; the job ran 17.5 s past the SIGTERM on this machine).


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
                assert charge_states(running, waiting.job_id) == ["refunded"]
            config = running.zone.services.config.source
            replica, address = serve_process(config)  # a second replica takes the job, dies
            with ZoneClient(address, token=running.token) as client:
                stale = client.train(PRODUCT, epsilon=1.0, delta=1e-6, **FAST)
            replica.kill()
            replica.wait()
            assert replica.stdout is not None
            replica.stdout.close()
            time.sleep(3)  # six sweeps of the live replica: the job is not the dead one's
            assert running.zone.services.training._jobs.get(stale.job_id).state.value == "queued"
            assert charge_states(running, stale.job_id) == ["reserved"]
            other = _worker_on_other_data(running, tmp_path / "other")
        with running_zone(config) as zone:  # alone on the state: it settles left-over work
            again = Setup(zone, running.token, [])
            assert zone.services.interrupted_jobs == 0
            assert zone.services.interrupted_charges == 0
            assert charge_states(again, stale.job_id) == ["reserved"]  # left to the workers
            worker = start_worker(other, tmp_path / "stale.log")
            try:
                with ZoneClient(target(zone), token=running.token) as client:
                    wait_for(lambda: client.get_job(stale.job_id).done, timeout=60)
                    final = client.get_job(stale.job_id)
            finally:
                stop_worker(worker)
            assert final.state == "FAILED" and "dataset version" in final.reason
            assert charge_states(again, stale.job_id) == ["refunded"]  # before any read


def _worker_on_other_data(running: Setup, root: Path) -> Path:
    """A worker config whose dataset store holds other rows (another version) of the dataset."""
    other = make_zone_dir(root, rows=500)
    source = running.zone.services.config.source.read_text()
    config = running.zone.services.config.source.parent / "stale-worker.yaml"
    text = source.replace(
        "datasets_db: datasets.duckdb", f"datasets_db: {other.parent}/datasets.duckdb"
    )
    config.write_text(text.replace("warm_workers: 1", "warm_workers: 0"))
    return config


def test_procrastinate_needs_a_postgresql_state(tmp_path: Path) -> None:
    config = tmp_path / "zone.yaml"
    config.write_text(
        "datasets_db: d\nstate_db: state.sqlite\nmodels_dir: m\npolicies_dir: p\n"
        "jobs:\n  executor: procrastinate\n"
    )
    with pytest.raises(ValidationFailed, match="jobs.executor: procrastinate"):
        load_config(config)


def test_neither_the_server_nor_the_worker_process_imports_torch() -> None:
    script = (
        "import sys\n"
        "import zone.server.wiring, zone.jobs.remote, zone.worker.loop\n"
        "print('torch' in sys.modules, 'opacus' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split() == ["False", "False"]


def test_the_reaper_refunds_unstarted_charges_started_and_ends_orphans_once(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    """A worker that dies after taking jobs: its heartbeat stops (a registered worker whose
    process is gone), its jobs are failed by the rule, exactly once; and a job no queue entry
    holds (the replica died between committing it and queueing it) is failed, refunded."""
    with fresh_database(pg_cluster, "template0") as url:
        with zone_with_workers(tmp_path / "zone", url, 0) as running:
            with ZoneClient(target(running.zone), token=running.token) as client:
                queued, started, orphan = (
                    client.train(PRODUCT, epsilon=1.0, delta=1e-6, **FAST) for _ in range(3)
                )
            config = load_config(running.zone.services.config.source)
            copy = tmp_path / "worker-copy"  # a worker machine's copy of the dataset store
            shutil.copytree(config.datasets_db, copy)
            jobs = replace(config.jobs, warm_workers=0)
            services = build(replace(config, jobs=jobs, datasets_db=copy))  # a reaper's view
            try:
                ended = asyncio.run(_die_holding(url, services, [queued.job_id, started.job_id],
                                                 started.job_id, orphan.job_id))  # fmt: skip
            finally:
                services.close(0)
            assert ended == [3, 0]  # the second round finds nothing: idempotent
            assert charge_states(running, queued.job_id) == ["refunded"]  # never started
            assert charge_states(running, started.job_id) == ["failed"]  # may have read data
            assert charge_states(running, orphan.job_id) == ["refunded"]
            for job in (queued, started, orphan):
                final = running.zone.services.training._jobs.get(job.job_id)
                assert final.state.value == "failed" and "worker was lost" in final.reason
            rows = running.read(
                "SELECT status FROM procrastinate_jobs WHERE lock IN (?, ?)",
                (queued.job_id, started.job_id),
            )
            assert [r[0] for r in rows] == ["failed", "failed"]


async def _die_holding(
    url: str, services: WorkerServices, held: list[str], running_one: str, orphan: str
) -> list[int]:
    app = queue_app(url, asynchronous=True)
    async with app.open_async():
        manager = app.job_manager
        (entry,) = await manager.list_jobs_async(queue=QUEUE, lock=orphan)
        assert entry.id is not None
        assert await manager.cancel_job_by_id_async(entry.id, delete_job=True)  # never queued
        worker_id = await manager.register_worker()
        for _ in held:
            assert await manager.fetch_job([QUEUE], worker_id) is not None
        services.jobs.transition(running_one, JobState.RUNNING)  # its "started" was handled
        with services.store.write() as tx:  # the worker's last heartbeat, and the orphan, are old
            tx.execute(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'"
            )
            tx.execute("UPDATE jobs SET created_at = '2000-01-01T00:00:00+00:00'")
        return [await reap(app, services, STALLED) for _ in range(2)]
