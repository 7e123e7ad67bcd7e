"""A replica whose presence session drops while it serves: fenced, swept once, back in place.

Real ``zone serve`` processes on a real PostgreSQL 15 cluster (tests/pgkit.py). The test ends
the replica's presence session the way a database restart or an idle-session kill would
(``pg_terminate_backend``), with the replica's training job running.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import psycopg
import pytest
from workerkit import wait_for
from zonekit import add_principal, make_zone_dir, serve_process

from zone.audit import verify_chain
from zone.client import UnavailableError, ZoneClient
from zone.client.health import check_instance
from zone.client.stats import count
from zone.state.location import PoolOptions
from zone.state.owners import OWNER_LOCKS
from zone.state.postgres import PostgresState
from zone.state.presence import application_name

STATS = "enterprise-stats"
TRAINING = "enterprise-default-lr"
SETTLEMENTS = ("release", "ledger.failed", "ledger.refund")


@contextmanager
def serving(config: Path) -> Iterator[str]:
    """One ``zone serve`` child process on ``config``: its address; SIGTERM afterwards."""
    proc, address = serve_process(config)
    try:
        yield address
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        return check_instance(channel)[0]


def _presence_pid(admin: psycopg.Connection[tuple[object, ...]], replica: str) -> int:
    row = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
        (application_name(replica),),
    ).fetchone()
    assert row is not None, "the replica has no presence session"
    return int(str(row[0]))


def _configs(root: Path, pg_url: str) -> tuple[Path, Path]:
    """(slow, fast): the fenced replica checks its place every 3 s, the sweeper every 0.1 s."""
    fast = make_zone_dir(
        root, rows=30_000, state_db=pg_url,
        extra_config="jobs:\n  warm_workers: 0\nstate:\n  orphan_sweep_seconds: 0.1\n",
    )  # fmt: skip
    slow = fast.with_name("slow.yaml")
    slow.write_text(
        fast.read_text()
        .replace("warm_workers: 0", "warm_workers: 1")
        .replace("orphan_sweep_seconds: 0.1", "orphan_sweep_seconds: 3")
    )
    return slow, fast


@pytest.mark.slow
def test_a_replica_that_lost_its_presence_is_fenced_swept_once_and_serves_again(
    tmp_path: Path, pg_url: str
) -> None:
    slow, fast = _configs(tmp_path / "zone", pg_url)
    token = add_principal(slow, "ann", products=(TRAINING, STATS), epsilon=50.0, delta=1e-5)
    admin: psycopg.Connection[tuple[object, ...]] = psycopg.connect(pg_url, autocommit=True)
    with admin, serving(slow) as first, serving(fast) as second:
        a = ZoneClient(first, token=token, timeout=60)
        b = ZoneClient(second, token=token, timeout=60)
        with a, b:
            job = a.train(TRAINING, epsilon=1.0, delta=1e-6, epochs=30, batch_size=64)
            wait_for(lambda: job.status().state == "RUNNING" and job.last.epoch >= 1, timeout=60)
            (owner,) = admin.execute(
                "SELECT owner FROM jobs WHERE job_id = %s", (job.job_id,)
            ).fetchone() or ("",)
            lock = (OWNER_LOCKS, str(owner))

            # 1. The session dies and someone else holds the replica's lock (as a sweeper
            #    does while it settles): the replica is fenced, and nobody settles its job.
            #    One statement, and the lock asked for before the session has ended: the
            #    request waits in the lock's queue and gets the lock as the session releases
            #    it, ahead of a sweep or the replica taking its place back. (Waiting for the
            #    session's end first left a window of up to 100 ms in which the replica, on
            #    its call path, took its lock back, and this statement waited for ever.)
            admin.execute("SET statement_timeout = '60s'")
            admin.execute(
                "SELECT pg_terminate_backend(%s), pg_advisory_lock(%s, hashtext(%s))",
                (_presence_pid(admin, str(owner)), *lock),
            )
            admin.execute("SET statement_timeout = 0")
            wait_for(lambda: not _serving(first), timeout=30)
            fenced_calls = (
                lambda: a.query_statistics(STATS, [count()], epsilon=0.1),
                lambda: a.train(TRAINING, epsilon=0.5, delta=1e-6, epochs=1, batch_size=64),
                a.list_datasets,  # even a call that only reads: its audit record is a write
            )
            for fenced_call in fenced_calls:
                with pytest.raises(UnavailableError):  # never INTERNAL
                    fenced_call()
            assert b.get_job(job.job_id).state == "RUNNING"

            # 2. The lock is free again: the other replica's sweep (every 0.1 s) takes it
            #    before the fenced one's next look (every 3 s) and settles the job; should the
            #    fenced one come back first, its session is ended again until a sweep wins.
            admin.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", lock)
            for _ in range(5):
                try:
                    wait_for(lambda: b.get_job(job.job_id).state == "FAILED", timeout=8)
                    break
                except AssertionError:
                    wait_for(lambda: _serving(first), timeout=30)
                    admin.execute(
                        "SELECT pg_terminate_backend(%s)", (_presence_pid(admin, str(owner)),)
                    )
            final = b.get_job(job.job_id)
            assert (final.state, final.reason) == ("FAILED", "replica died")

            # 3. The replica takes its place back, stops the job's worker and serves again.
            wait_for(lambda: _serving(first), timeout=30)
            a.query_statistics(STATS, [count()], epsilon=0.1)
            time.sleep(4)  # a round after the return: the worker is stopped, the job stays
            assert a.get_job(job.job_id).state == "FAILED"
            b.query_statistics(STATS, [count()], epsilon=0.1)

    with PostgresState.open(pg_url, PoolOptions(min_connections=1)) as state, state.read() as tx:
        assert verify_chain(tx).ok
        charges = dict(tx.execute("SELECT release_id, state FROM charges").fetchall())
        settled: dict[str, int] = {}
        for (release_id,) in tx.execute(
            "SELECT json_extract(record, '$.release_id') FROM audit_log WHERE kind IN (?, ?, ?)",
            SETTLEMENTS,
        ).fetchall():
            settled[str(release_id)] = settled.get(str(release_id), 0) + 1
        (job_charge,) = tx.execute(
            "SELECT c.state FROM charges c JOIN jobs j ON j.release_id = c.release_id "
            "WHERE j.job_id = ?",
            (job.job_id,),
        ).fetchone()
    assert "reserved" not in charges.values()
    assert settled == dict.fromkeys(charges, 1)  # every charge exactly once
    assert job_charge == "failed"  # running: it had touched data; charged once, not refunded
