"""Replicas: several ``zone serve`` processes on one PostgreSQL state serve the same zone.

Real servers (child processes on port 0), real DuckDB files, a real PostgreSQL 15 cluster
started by the test session (tests/pgkit.py).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from pgkit import Cluster, fresh_database, running_cluster
from zonekit import TOKENS, add_principal, make_zone_dir, serve_process

from zone.audit import verify_chain
from zone.client import (
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
    ZoneClient,
)
from zone.client.stats import count
from zone.state.location import PoolOptions
from zone.state.postgres import PostgresState

PRODUCT = "enterprise-stats"
CALLS = 40


@contextmanager
def replicas(config: Path, n: int) -> Iterator[list[str]]:
    """``n`` replicas of the zone in ``config``, stopped (SIGTERM) afterwards: their addresses."""
    with ExitStack() as stack:
        addresses = []
        for _ in range(n):
            proc, address = serve_process(config)
            stack.callback(_stop, proc)
            addresses.append(address)
        yield addresses


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    if proc.stdout is not None:
        proc.stdout.close()


def race(addresses: list[str], token: str) -> list[str]:
    """``CALLS`` Query calls of epsilon 0.1 at once, spread evenly over the replicas."""
    outcomes: list[str] = []
    barrier = threading.Barrier(CALLS)

    def ask(i: int) -> None:
        with ZoneClient(addresses[i % len(addresses)], token=token, timeout=60) as client:
            barrier.wait()
            try:
                client.query_statistics(PRODUCT, [count()], epsilon=0.1)
                outcomes.append("ok")
            except ResourceExhaustedError:
                outcomes.append("exhausted")

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(CALLS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 3])
def test_forty_queries_over_replicas_against_a_budget_of_one_grant_ten(
    tmp_path: Path, pg_url: str, n: int
) -> None:
    config = make_zone_dir(tmp_path / "zone", state_db=pg_url)
    tokens = [add_principal(config, f"racer{i}", epsilon=1.0) for i in range(2)]
    with replicas(config, n) as addresses:
        for token in tokens:  # the race, twice
            outcomes = race(addresses, token)
            assert outcomes.count("ok") == 10 and outcomes.count("exhausted") == 30
        with ZoneClient(addresses[-1], token=tokens[0]) as client:
            left = client.estimate_cost(PRODUCT, [count()], epsilon=0.1).remaining_epsilon
    assert left == 0.0
    with PostgresState.open(pg_url, PoolOptions(min_connections=1)) as state:
        with state.read() as tx:
            assert verify_chain(tx).ok
            charged = tx.execute(
                "SELECT state, COUNT(*) FROM charges GROUP BY state ORDER BY state"
            ).fetchall()
    assert charged == [("released", 20)]


def test_db_migrate_command_migrates_once(tmp_path: Path, pg_cluster: Cluster) -> None:
    url = pg_cluster.create_database()
    config = tmp_path / "zone.yaml"
    config.write_text(f"datasets_db: d\nstate_db: {url}\nmodels_dir: m\npolicies_dir: p\n")
    command = [sys.executable, "-m", "zone.cli", "db", "migrate", "--config", str(config)]
    first = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    again = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert "applied 1, 2, 3" in first and "password" not in first
    assert "applied none (up to date)" in again


@pytest.mark.slow
def test_a_restarted_database_makes_calls_unavailable_then_they_recover(tmp_path: Path) -> None:
    with running_cluster() as cluster, fresh_database(cluster, "template0") as url:
        config = make_zone_dir(tmp_path / "zone", state_db=url)
        token = add_principal(config, "analyst", epsilon=100.0)
        with replicas(config, 1) as (address,), ZoneClient(address, token=token) as client:
            client.query_statistics(PRODUCT, [count()], epsilon=0.1)
            cluster.pg_ctl("-m", "immediate", "-w", "stop")
            with pytest.raises(UnavailableError):
                client.query_statistics(PRODUCT, [count()], epsilon=0.1)
            cluster.restart()
            outcomes = []
            for _ in range(60):  # each broken pooled connection fails one call, then is replaced
                try:
                    client.query_statistics(PRODUCT, [count()], epsilon=0.1)
                    outcomes.append("ok")
                    break
                except UnavailableError:
                    outcomes.append("unavailable")
            assert outcomes[-1] == "ok"


@pytest.mark.slow
def test_killing_one_replica_under_load_leaves_the_others_serving(
    tmp_path: Path, pg_url: str
) -> None:
    config = make_zone_dir(tmp_path / "zone", state_db=pg_url)
    token = add_principal(config, "busy", epsilon=1000.0)
    victim, victim_address = serve_process(config)
    try:
        with replicas(config, 1) as (survivor,):
            acknowledged: list[str] = []
            stop = threading.Event()

            def load(address: str) -> None:
                with ZoneClient(address, token=token, timeout=30) as client:
                    while not stop.is_set():
                        try:
                            client.query_statistics(PRODUCT, [count()], epsilon=0.01)
                            acknowledged.append(address)
                        except Exception:  # noqa: BLE001 - the victim's calls fail when it dies
                            if address == survivor:
                                raise

            threads = [threading.Thread(target=load, args=(a,))
                       for a in (victim_address, survivor) * 2]  # fmt: skip
            for t in threads:
                t.start()
            threading.Event().wait(3)
            victim.send_signal(signal.SIGKILL)
            killed_at = len(acknowledged)
            threading.Event().wait(3)
            stop.set()
            for t in threads:
                t.join()
            assert acknowledged[killed_at:].count(survivor) > 0  # served on after the kill
    finally:
        victim.kill()
        victim.wait()
        if victim.stdout is not None:
            victim.stdout.close()
    with PostgresState.open(pg_url, PoolOptions(min_connections=1)) as state:
        with state.read() as tx:
            assert verify_chain(tx).ok
            states = dict(tx.execute("SELECT state, COUNT(*) FROM charges GROUP BY state"))
            releases = tx.execute("SELECT COUNT(*) FROM releases").fetchone()[0]
    assert states.get("released", 0) == releases >= len(acknowledged)
    # The victim's reservations in flight stay reserved (counted as spent) until a replica
    # starts alone (docs/DEPLOY.md); a 4-thread load has at most 2 in flight on it.
    assert states.get("reserved", 0) <= 2


@pytest.mark.slow
def test_a_dead_replicas_open_work_is_settled_by_the_others(tmp_path: Path, pg_url: str) -> None:
    """kill -9 of a replica holding a running job and open reservations: a live replica's
    sweep settles them by the charging rule; while the replica lived, nobody touched them."""
    training = "enterprise-default-lr"
    config = make_zone_dir(
        tmp_path / "zone", rows=30_000, state_db=pg_url, warm_workers=1,
        extra_config="state:\n  orphan_sweep_seconds: 0.3\n",
    )  # fmt: skip
    token = add_principal(config, "ann", products=(training, PRODUCT), epsilon=50.0, delta=1e-5)
    victim, victim_address = serve_process(config)
    try:
        with replicas(config, 1) as (survivor,):
            with ZoneClient(victim_address, token=token, timeout=60) as client:
                job = client.train(training, epsilon=1.0, delta=1e-6, epochs=30, batch_size=64)
                _wait(lambda: job.status().state == "RUNNING" and job.last.epoch >= 1)
            threading.Event().wait(1.5)  # five sweeps of the survivor: the job is live work
            with ZoneClient(survivor, token=token, timeout=60) as client:
                assert client.get_job(job.job_id).state == "RUNNING"
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            with ZoneClient(survivor, token=token, timeout=60) as client:
                _wait(lambda: client.get_job(job.job_id).state == "FAILED")
                final = client.get_job(job.job_id)
                assert final.reason == "replica died"
                _wait(lambda: _charge_states(pg_url).get("reserved", 0) == 0)
                client.query_statistics(PRODUCT, [count()], epsilon=0.1)  # serving on
    finally:
        victim.kill()
        victim.wait()
        if victim.stdout is not None:
            victim.stdout.close()
    with PostgresState.open(pg_url, PoolOptions(min_connections=1)) as state, state.read() as tx:
        assert verify_chain(tx).ok
        (job_charge,) = tx.execute(
            "SELECT c.state FROM charges c JOIN jobs j ON j.release_id = c.release_id "
            "WHERE j.job_id = ?",
            (job.job_id,),
        ).fetchone()
        assert job_charge == "failed"  # the job had touched data: charged, once
        settled = tx.execute(
            "SELECT COUNT(*) FROM audit_log WHERE kind = 'ledger.failed' AND "
            "json_extract(record, '$.release_id') = (SELECT release_id FROM jobs WHERE "
            "job_id = ?)",
            (job.job_id,),
        ).fetchone()[0]
        assert settled == 1


def _charge_states(pg_url: str) -> dict[str, int]:
    with PostgresState.open(pg_url, PoolOptions(min_connections=1)) as state, state.read() as tx:
        return dict(tx.execute("SELECT state, COUNT(*) FROM charges GROUP BY state").fetchall())


def _wait(predicate: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached")


def _serves(address: str, token: str) -> bool:
    with ZoneClient(address, token=token, timeout=30) as client:
        try:
            client.query_statistics(PRODUCT, [count()], epsilon=0.01)
        except UnauthenticatedError:
            return False
    return True


def test_a_policy_reload_on_one_replica_reaches_the_others(tmp_path: Path, pg_url: str) -> None:
    """The other replica follows by NOTIFY (its fallback poll is 60 s, longer than the wait)."""
    config = make_zone_dir(
        tmp_path / "zone", state_db=pg_url, extra_config="state:\n  reload_poll_seconds: 60\n"
    )
    with replicas(config, 2) as (first, second):
        token = add_principal(config, "late", epsilon=1.0)
        assert not _serves(second, token)
        with ZoneClient(first, token=TOKENS["admin"], timeout=30) as admin:
            digest = admin.reload_policies().serving_digest
        _wait(lambda: _serves(second, token), timeout=20)
    with PostgresState.open(pg_url, PoolOptions(min_connections=1)) as state, state.read() as tx:
        kinds = [k for (k,) in tx.execute("SELECT kind FROM audit_log").fetchall()]
        recorded = tx.execute("SELECT generation, digest FROM generations").fetchall()
    assert kinds.count("policy.reload") == 2 and "policy.mismatch" not in kinds
    assert recorded == [(1, digest)]


def test_a_replica_with_other_files_keeps_its_set_and_says_so(tmp_path: Path, pg_url: str) -> None:
    """Two machines with different policies/ folders: the one whose files differ keeps
    serving what it loaded, and a policy.mismatch record names both digests."""
    shared = f"joint:\n  cohorts_dir: {tmp_path / 'cohorts'}\n"  # every replica mounts it
    one = make_zone_dir(tmp_path / "one", state_db=pg_url, extra_config=shared)
    other = make_zone_dir(tmp_path / "other", state_db=pg_url, extra_config=shared)
    with replicas(one, 1) as (first,), replicas(other, 1) as (second,):
        token = add_principal(one, "late", epsilon=1.0)  # only on the first machine
        with ZoneClient(first, token=TOKENS["admin"], timeout=30) as admin:
            digest = admin.reload_policies().serving_digest
        with PostgresState.open(pg_url, PoolOptions(min_connections=1)) as state:

            def mismatches() -> list[str]:
                with state.read() as tx:
                    return [
                        str(r)
                        for (r,) in tx.execute(
                            "SELECT record FROM audit_log WHERE kind = 'policy.mismatch'"
                        ).fetchall()
                    ]

            _wait(lambda: len(mismatches()) == 1, timeout=20)
            assert digest in mismatches()[0]
        assert _serves(first, token) and not _serves(second, token)


def test_a_client_given_both_replicas_moves_to_the_live_one(tmp_path: Path, pg_url: str) -> None:
    # docs/DEPLOY.md: without a load balancer, a target naming several replicas fails over.
    config = make_zone_dir(tmp_path / "zone", state_db=pg_url)
    first, first_address = serve_process(config)
    try:
        with replicas(config, 1) as (second_address,):
            target = f"ipv4:{first_address},{second_address}"
            with ZoneClient(second_address, token=TOKENS["bank"]) as direct:
                second_id = direct.instance_id()
            with ZoneClient(target, token=TOKENS["bank"], timeout=10) as client:
                assert client.instance_id() != second_id  # the first address that answers
                _stop(first)
                assert client.instance_id() == second_id
                assert client.list_datasets()
    finally:
        if first.poll() is None:
            _stop(first)
