"""kill -9 the server during a mixed workload, several times: nothing lost, doubled or stuck.

Each round starts ``zone serve``, runs statistics queries (3 clients), catalog calls and one
training job, and SIGKILLs the server: very early in one round, just after the job ended in
another, at a random moment 0.8-3.5 s in for the rest. After the last round the zone is
restarted once more (recovery settles what the kills left open) and stopped. Then, from the
state database:

- every acknowledged release is ``released``; no charge is left ``reserved``;
- budget spent (per principal and zone-wide) == the sum of the charges not refunded, and the
  charges nobody acknowledged are at most one per client in flight per kill;
- every acknowledged job exists and has ended; its charge matches the charging rule (succeeded:
  released; else failed, or refunded only if it never touched data); no job is QUEUED or
  RUNNING, and no worker process outlived its server;
- metering (when present): every acknowledged release has its usage row, and each quota
  counter equals the usage rows it admitted;
- the audit chain verifies.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from zonekit import add_principal, make_zone_dir, serve_process

from zone.audit import verify_file
from zone.client import ZoneClient, ZoneClientError
from zone.client.jobs import TERMINAL
from zone.client.stats import count

EPSILON = 0.001
KILLS = 4
STATS_CLIENTS = 3
TRAINING = {"epsilon": 0.2, "delta": 1e-8, "epochs": 1, "batch_size": 256}


class Acks:
    """What clients were told succeeded (shared by the client threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.releases: list[str] = []
        self.jobs: list[str] = []
        self.catalog = 0
        self.job_state = ""  # of this round's job, as last seen by its client


def _until_dead(target: str, token: str, stop: threading.Event, step: Callable[..., None]) -> None:
    with ZoneClient(target, token=token, timeout=10) as client:
        while not stop.is_set():
            try:
                step(client)
            except ZoneClientError:
                return  # the server died under us


def _workload(target: str, token: str, acks: Acks, stop: threading.Event) -> list[threading.Thread]:
    def query(client: ZoneClient) -> None:
        release = client.query_statistics("enterprise-stats", [count()], epsilon=EPSILON)
        with acks.lock:
            acks.releases.append(release.release_id)

    def catalog(client: ZoneClient) -> None:
        client.list_datasets()
        client.describe_product("enterprise-default-lr")
        with acks.lock:
            acks.catalog += 2

    submitted: list[str] = []

    def train(client: ZoneClient) -> None:
        if not submitted:
            job = client.train("enterprise-default-lr", **TRAINING)  # type: ignore[arg-type]
            submitted.append(job.job_id)
            with acks.lock:
                acks.jobs.append(job.job_id)
        acks.job_state = client.get_job(submitted[0]).state
        time.sleep(0.1)

    steps = [query] * STATS_CLIENTS + [catalog, train]
    threads = [threading.Thread(target=_until_dead, args=(target, token, stop, s)) for s in steps]
    for t in threads:
        t.start()
    return threads


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (the server's job workers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _gone(pids: set[int], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() and "Z" not in _state_of(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def _state_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def _round(config: Path, token: str, acks: Acks, delay: float, after_job: bool) -> None:
    """One server life: the workload, then SIGKILL ``delay`` s in (or after the job ended)."""
    proc, target = serve_process(config)
    stop = threading.Event()
    acks.job_state = ""
    threads = _workload(target, token, acks, stop)
    deadline = time.monotonic() + 60
    while after_job and acks.job_state not in TERMINAL and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(delay)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stop.set()
    for t in threads:
        t.join(15)
    assert proc.stdout is not None
    proc.stdout.close()
    assert _gone(workers), "a job worker outlived its server"


def _one(conn: sqlite3.Connection, sql: str, *args: object) -> int:
    return int(conn.execute(sql, args).fetchone()[0])


def _check_ledger(conn: sqlite3.Connection, acks: Acks) -> None:
    states = dict(conn.execute("SELECT release_id, state FROM charges"))
    assert "reserved" not in states.values()  # recovery settled every open charge
    assert all(states.get(rid) == "released" for rid in acks.releases)
    charged = "SELECT coalesce(sum({}), 0) FROM charges WHERE state != 'refunded'"
    for column in ("epsilon_micro", "delta_femto"):
        total = _one(conn, charged.format(column))
        assert _one(conn, f"SELECT coalesce(sum({column}), 0) FROM budget_spend") == total
        assert _one(conn, f"SELECT coalesce(sum({column}), 0) FROM dataset_spend") == total
    job_charges = {r for (r,) in conn.execute("SELECT release_id FROM jobs WHERE release_id != ''")}
    unacknowledged = [
        rid
        for rid, state in states.items()
        if state != "refunded" and rid not in set(acks.releases) and rid not in job_charges
    ]
    # Only calls in flight at a kill can be charged without an answer (at most once each);
    # the final round adds one query of its own.
    assert len(unacknowledged) <= STATS_CLIENTS * KILLS


def _check_jobs(conn: sqlite3.Connection, acks: Acks) -> None:
    assert _one(conn, "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')") == 0
    rows = conn.execute(
        "SELECT j.job_id, j.state, j.touched_data, c.state FROM jobs j "
        "JOIN charges c ON c.release_id = j.release_id"
    ).fetchall()
    by_id = {job_id: (state, touched, charge) for job_id, state, touched, charge in rows}
    assert set(acks.jobs) <= set(by_id)
    for state, touched, charge in by_id.values():
        if state == "succeeded":
            assert charge == "released"
        else:
            assert charge in ("failed", "refunded")
            assert charge == "failed" or not touched  # refunded only if no data was touched


def _check_metering(conn: sqlite3.Connection, acks: Acks) -> bool:
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    if "usage" not in tables:  # zone/metering (migration 0006) not present
        return False
    metered = {r for (r,) in conn.execute("SELECT release_id FROM usage WHERE release_id != ''")}
    jobs = dict(conn.execute("SELECT job_id, release_id FROM jobs"))
    assert set(acks.releases) <= metered
    assert {jobs[j] for j in acks.jobs} <= metered
    for principal, product, used in conn.execute(
        "SELECT principal, product, used FROM quota_use"
    ).fetchall():
        rows = _one(
            conn,
            "SELECT count(*) FROM usage WHERE principal = ? AND product = ?",
            principal,
            product,
        )
        assert used == rows, (principal, product)  # the window is today's: the test is short
    return True


def test_kill9_during_mixed_workload_loses_and_doubles_nothing(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path)
    token = add_principal(
        config,
        "streamer",
        products=("enterprise-stats", "enterprise-default-lr"),
        epsilon=40.0,
        per_job_epsilon=1.0,
    )
    rng = random.Random(20261127)
    acks = Acks()
    # Kill points: very early (job queued or starting), after the job ended, then at random.
    plan = [(0.3, False), (rng.uniform(0.1, 0.5), True)]
    plan += [(rng.uniform(0.8, 3.5), False) for _ in range(KILLS - len(plan))]
    for delay, after_job in plan:
        _round(config, token, acks, delay, after_job)
    proc, target = serve_process(config)  # recovery settles what the kills left open
    try:
        with ZoneClient(target, token=token) as client:
            final = client.query_statistics("enterprise-stats", [count()], epsilon=EPSILON)
            acks.releases.append(final.release_id)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        assert proc.stdout is not None
        proc.stdout.close()
    assert len(acks.releases) > 10 and len(acks.jobs) >= KILLS // 2 and acks.catalog > 0
    state = tmp_path / "state.sqlite"
    conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        _check_ledger(conn, acks)
        _check_jobs(conn, acks)
        metered = _check_metering(conn, acks)
        outcomes = conn.execute(
            "SELECT j.state, c.state, count(*) FROM jobs j JOIN charges c "
            "ON c.release_id = j.release_id GROUP BY 1, 2"
        ).fetchall()
    finally:
        conn.close()
    assert verify_file(state).ok
    print(
        f"\n{KILLS} kills: {len(acks.releases)} releases, {len(acks.jobs)} jobs, "
        f"{acks.catalog} catalog calls acknowledged; jobs (state, charge): {outcomes}; "
        f"metering checked: {metered}; 0 discrepancies"
    )
