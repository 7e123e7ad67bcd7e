"""Cohorts (joint modeling) across replicas: one shared cohort folder, records in PostgreSQL.

Real ``zone serve`` processes on a real PostgreSQL 15 cluster (tests/pgkit.py), sharing the
cohort folder their config names (``joint.cohorts_dir``), as replicas on several machines
share a mount.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from jointkit import PRODUCT, cohort_rows, files_under, make_joint_zone, schema, to_csv
from zonekit import serve_process

from zone.audit import verify_chain
from zone.client import FailedPreconditionError, NotFoundError, ZoneClient
from zone.products.joint.folder import MARKER
from zone.state.location import PoolOptions
from zone.state.postgres import PostgresState

ROWS = 400
FAST = {"epochs": 2, "batch_size": 64}


@contextmanager
def serving(config: Path, procs: list[int] | None = None) -> Iterator[str]:
    """One ``zone serve`` child process on ``config``: its address; SIGTERM afterwards."""
    proc, address = serve_process(config)
    if procs is not None:
        procs.append(proc.pid)
    try:
        yield address
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        if proc.stdout is not None:
            proc.stdout.close()


def _wait(predicate: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached")


def _workers(pid: int) -> int:
    """How many job worker processes (spawned children) the process ``pid`` has now."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children += (task / "children").read_text().split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
    found = 0
    for child in children:
        try:
            found += "spawn_main" in Path(f"/proc/{child}/cmdline").read_text()
        except FileNotFoundError:
            continue
    return found


def _zone(root: Path, pg_url: str, shared: Path) -> tuple[Path, dict[str, str]]:
    return make_joint_zone(
        root, rows=1000, state_db=pg_url,
        extra_config=f"joint:\n  cohorts_dir: {shared}\nstate:\n  orphan_sweep_seconds: 0.2\n",
    )  # fmt: skip


@pytest.mark.slow
def test_upload_on_one_replica_train_and_erase_on_another_and_the_first_refuses_it(
    tmp_path: Path, pg_url: str
) -> None:
    shared = tmp_path / "shared-cohorts"
    config, tokens = _zone(tmp_path / "zone", pg_url, shared)
    data = to_csv(cohort_rows(config, ROWS))
    with serving(config) as first, serving(config) as second:
        a = ZoneClient(first, token=tokens["opa"], timeout=60)
        b = ZoneClient(second, token=tokens["opa"], timeout=60)
        other_on_b = ZoneClient(second, token=tokens["opb"], timeout=60)
        with a, b, other_on_b:
            record = a.upload_cohort(data, schema())
            assert b.describe_cohort(record.upload_id).digest == record.digest
            with pytest.raises(NotFoundError):  # ownership holds on every replica
                other_on_b.describe_cohort(record.upload_id)
            with pytest.raises(NotFoundError):
                other_on_b.train_joint(PRODUCT, record.upload_id, epsilon=1.0, delta=1e-6, **FAST)
            job = b.train_joint(PRODUCT, record.upload_id, epsilon=1.0, delta=1e-6,
                                keep_cohort=True, **FAST)  # fmt: skip
            final = job.wait()
            assert final.state == "SUCCEEDED", final.reason
            assert a.get_job(job.job_id).state == "SUCCEEDED"
            erased = b.erase_cohort(record.upload_id)
            assert erased.state == "erased" and erased.erasure_id
            assert [p.name for p in files_under(shared)] == [MARKER]  # the file is shredded
            assert a.describe_cohort(record.upload_id).state == "erased"
            with pytest.raises(FailedPreconditionError, match="erased"):
                a.train_joint(PRODUCT, record.upload_id, epsilon=1.0, delta=1e-6, **FAST)
            with pytest.raises(FailedPreconditionError, match="erased"):
                a.estimate_joint(PRODUCT, record.upload_id, epsilon=1.0, delta=1e-6, **FAST)
            assert a.erase_cohort(record.upload_id).erasure_id == erased.erasure_id  # once
            bundle = a.get_receipt(erased.erasure_id)  # the erasure receipt, from either replica
            assert bundle.receipt["kind"] == "cohort.erasure"
    with PostgresState.open(pg_url, PoolOptions(min_connections=1)) as state, state.read() as tx:
        assert verify_chain(tx).ok
        kinds = [k for (k,) in tx.execute("SELECT kind FROM audit_log").fetchall()]
        charges = tx.execute("SELECT state FROM charges").fetchall()
    assert kinds.count("cohort.upload") == 1
    assert charges == [("released",)]


@pytest.mark.slow
def test_an_erasure_on_one_replica_cancels_the_job_reading_the_cohort_on_another(
    tmp_path: Path, pg_url: str
) -> None:
    """The job runs on the second replica; the erasure on the first cancels it (charged: it
    was running), the second stops its worker, and the cohort is erased exactly once."""
    shared = tmp_path / "shared-cohorts"
    config, tokens = _zone(tmp_path / "zone", pg_url, shared)
    data = to_csv(cohort_rows(config, 20_000, seed=3))  # 15,000 steps: running for a while
    pids: list[int] = []
    with serving(config) as first, serving(config, pids) as second:
        a = ZoneClient(first, token=tokens["opa"], timeout=60)
        b = ZoneClient(second, token=tokens["opa"], timeout=60)
        with a, b:
            record = a.upload_cohort(data, schema())
            job = b.train_joint(PRODUCT, record.upload_id, epsilon=1.0, delta=1e-6,
                                epochs=30, batch_size=32)  # fmt: skip
            _wait(lambda: job.status().state == "RUNNING" and job.last.epoch >= 1)
            assert _workers(pids[0]) == 1
            erased = a.erase_cohort(record.upload_id)
            assert erased.state == "erased"
            final = b.get_job(job.job_id)
            assert final.state == "CANCELLED" and "cohort erased" in final.reason
            _wait(lambda: _workers(pids[0]) == 0, timeout=30)  # its worker is stopped
            assert b.get_job(job.job_id).state == "CANCELLED"
            assert [p.name for p in files_under(shared)] == [MARKER]
    with PostgresState.open(pg_url, PoolOptions(min_connections=1)) as state, state.read() as tx:
        assert verify_chain(tx).ok
        (charge,) = tx.execute(
            "SELECT c.state FROM charges c JOIN jobs j ON j.release_id = c.release_id "
            "WHERE j.job_id = ?",
            (job.job_id,),
        ).fetchone()
        erasures = tx.execute(
            "SELECT COUNT(*) FROM audit_log WHERE kind = 'release' AND "
            "json_extract(record, '$.kind') = 'cohort.erasure'"
        ).fetchone()[0]
    assert charge == "failed" and erasures == 1


def test_a_replica_with_a_cohort_folder_of_its_own_refuses_to_start(
    tmp_path: Path, pg_url: str
) -> None:
    config, _ = _zone(tmp_path / "zone", pg_url, tmp_path / "shared-cohorts")
    with serving(config):
        pass  # the first start binds the shared folder to the state
    alone = config.with_name("alone.yaml")
    alone.write_text(config.read_text().replace("shared-cohorts", "own-cohorts"))
    started = subprocess.run(
        [sys.executable, "-m", "zone.cli", "serve", "--config", str(alone),
         "--listen", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert started.returncode != 0 and "zone: serving" not in started.stdout
    assert "not the cohort folder this zone's replicas share" in started.stderr
