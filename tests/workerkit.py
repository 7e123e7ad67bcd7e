"""``zone worker`` processes and zones that queue training for them, for the worker tests."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from zonekit import REPO, add_principal, make_zone_dir, running_zone

from zone.server.app import RunningZone

PRODUCT = "enterprise-default-lr"
FAST = {"epochs": 2, "batch_size": 256}
SLOW = {"epochs": 30, "batch_size": 64}  # runs until it is stopped
MEDIUM = {"epochs": 20, "batch_size": 64}  # runs a few seconds past a SIGTERM
STALLED = 2  # seconds without a heartbeat before a worker counts as dead (the least allowed)
# No warm child: each job's child imports torch (the warm pool is the local executor's, tested
# in tests/unit/jobs; bench_workers.py runs workers with warm children).
WORKERS = f"jobs:\n  executor: procrastinate\n  warm_workers: 0\n  stalled_seconds: {STALLED}\n"


@dataclass
class Worker:
    """One ``zone worker`` child process and its log file."""

    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def start_worker(config: Path, log: Path) -> Worker:
    """``zone worker`` in a child process; returns once it waits for jobs."""
    (worker,) = start_workers(config, [log])
    return worker


def start_workers(config: Path, logs: list[Path]) -> list[Worker]:
    """One ``zone worker`` per log file, started together; returns once all wait for jobs."""
    workers = []
    for log in logs:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "zone.cli", "worker", "--config", str(config)],
                stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
            )  # fmt: skip
        workers.append(Worker(proc, log))
    for worker in workers:
        wait_for(
            lambda w=worker: "waiting for training jobs" in w.text() or w.proc.poll() is not None
        )
        assert worker.proc.poll() is None, worker.text()
    return workers


def maps_torch(pid: int) -> bool:
    """Whether process ``pid`` has torch's native library loaded (what ``import torch`` does)."""
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


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

    def touched(self, job_id: str) -> bool:
        ((flag,),) = self.read("SELECT touched_data FROM jobs WHERE job_id = ?", (job_id,))
        return bool(flag)

    def queue_status(self, job_id: str) -> list[str]:
        rows = self.read("SELECT status FROM procrastinate_jobs WHERE lock = ?", (job_id,))
        return [str(r[0]) for r in rows]

    def charge_states(self, job_id: str) -> list[str]:
        rows = self.read(
            "SELECT c.state FROM charges c JOIN jobs j ON j.release_id = c.release_id "
            "WHERE j.job_id = ?",
            (job_id,),
        )
        return [str(r[0]) for r in rows]

    def transitions(self, job_id: str) -> list[str]:
        entries = self.zone.services.audit.entries(limit=10_000)
        return [
            str(e.record["state"])
            for e in entries
            if e.kind == "job.transition" and e.record["job_id"] == job_id
        ]


@contextmanager
def zone_with_workers(root: Path, url: str, n: int, extra: str = "") -> Iterator[Setup]:
    config = make_zone_dir(root, rows=2000, state_db=url, extra_config=WORKERS + extra)
    token = add_principal(config, "olga", products=(PRODUCT,), epsilon=50.0, delta=1e-5)
    workers: list[Worker] = []  # tests may replace some: every one left is stopped
    try:
        with running_zone(config) as zone:
            workers.extend(start_workers(config, [root / f"worker{i}.log" for i in range(n)]))
            yield Setup(zone, token, workers)
    finally:
        for worker in workers:
            stop_worker(worker)


def worker_config(setup: Setup, name: str, *, datasets_db: Path | None = None) -> Path:
    """A config for another worker of the zone: no warm child (its job's child starts cold).

    ``datasets_db``: another dataset store (a machine whose copy holds another version).
    """
    source = setup.zone.services.config.source
    text = source.read_text().replace("warm_workers: 1", "warm_workers: 0")
    if datasets_db is not None:
        text = text.replace("datasets_db: datasets.duckdb", f"datasets_db: {datasets_db}")
    config = source.parent / name
    config.write_text(text)
    return config


READS: list[bool] = []
"""What :func:`read_after_touch` saw: whether its job's mark was committed when it "read"."""


def read_after_touch(payload: str, emit: Callable[[dict[str, object]], None]) -> None:
    """A job target: announces its read, then records whether the mark is in the database.

    ``payload`` is ``"<state url> <job id>"``; the mark is read on a connection of its own, so
    only a committed mark is seen.
    """
    from zone.state.location import PoolOptions
    from zone.state.postgres import PostgresState

    url, job_id = payload.split()
    emit({"event": "touched_data"})
    store = PostgresState.open(url, PoolOptions(min_connections=1, max_connections=1))
    try:
        with store.read() as tx:
            (flag,) = tx.execute(
                "SELECT touched_data FROM jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
        READS.append(bool(flag))
    finally:
        store.close()
