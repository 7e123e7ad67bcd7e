"""With one use left, concurrent calls admit exactly one; uses never exceed max_uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from consentkit import NOW, SUBJECT, consume, register_consent, scope
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zone
from zone.consent import SubjectConsent, check_and_consume, find
from zone.state import StateStore

ROUNDS = 20
THREADS = 8
HERE = Path(__file__).resolve().parent


def race(store: StateStore, consent_id: str, label: str) -> list[str]:
    """THREADS threads released together, each trying one use of ``consent_id``."""
    barrier = threading.Barrier(THREADS)
    results: list[SubjectConsent] = []

    def attempt(n: int) -> None:
        barrier.wait()
        with store.write() as conn:
            outcomes = check_and_consume(
                conn, scope(request_id=f"{label}-t{n}"), [(SUBJECT, consent_id)], now=NOW
            )
        results.extend(outcomes)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(o.reason for o in results)


def test_threads_with_one_use_left_admit_exactly_one(store: StateStore) -> None:
    for round_ in range(ROUNDS):
        consent_id = register_consent(store, max_uses=2).consent_id
        assert [o.reason for o in consume(store, [(SUBJECT, consent_id)])] == ["ok"]
        reasons = race(store, consent_id, f"r{round_}")
        assert reasons == ["ok"] + ["used_up"] * (THREADS - 1), f"round {round_}"
        with store.read() as conn:
            record = find(conn, "", consent_id)
        assert record is not None and record.uses == 2


def test_two_processes_with_one_use_left_admit_exactly_one(
    store: StateStore, db_path: Path, tmp_path: Path
) -> None:
    ids = [register_consent(store, max_uses=1).consent_id for _ in range(ROUNDS)]
    env = {**os.environ, "PYTHONPATH": str(Path(zone.__file__).resolve().parents[1])}
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{n}" for n in range(2)]
    workers = [
        subprocess.Popen(
            [sys.executable, str(HERE / "race_worker.py"), str(db_path), str(r), str(go), *ids],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for r in ready
    ]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.005)
    go.touch()
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    first, second = (json.loads(out) for out in outputs)
    for consent_id, pair in zip(ids, zip(first, second, strict=True), strict=True):
        assert sorted(pair) == ["ok", "used_up"], consent_id
    with store.read() as conn:
        rows = conn.execute("SELECT count(*), max(uses) FROM consents").fetchone()
        used = conn.execute("SELECT sum(subject_count) FROM consent_calls").fetchone()
    assert rows == (ROUNDS, 1) and used == (ROUNDS,)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    max_uses=st.integers(min_value=1, max_value=5),
    calls=st.lists(st.tuples(st.integers(min_value=0, max_value=4), st.booleans()), max_size=8),
)
def test_uses_never_exceed_max_uses(
    store: StateStore, max_uses: int, calls: list[tuple[int, bool]]
) -> None:
    """Calls of n subjects under one consent, some rolled back: committed uses <= max_uses."""
    consent_id = register_consent(store, max_uses=max_uses).consent_id
    admitted = 0
    for n, roll_back in calls:
        try:
            with store.write() as conn:
                outcomes = check_and_consume(conn, scope(), [(SUBJECT, consent_id)] * n, now=NOW)
                if roll_back:
                    raise _RolledBack
        except _RolledBack:
            continue
        admitted += sum(o.admitted for o in outcomes)
        with store.read() as conn:
            record = find(conn, "", consent_id)
        assert record is not None and record.uses == admitted <= max_uses
    committed = sum(n for n, roll_back in calls if not roll_back)
    assert admitted == min(committed, max_uses)


class _RolledBack(Exception):
    pass
