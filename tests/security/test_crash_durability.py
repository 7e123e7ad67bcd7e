"""kill -9 the server during a stream of charged queries: after restart nothing lost or doubled."""

from __future__ import annotations

import random
import signal
import sqlite3
import threading
import time
from pathlib import Path

from zonekit import add_principal, make_zone_dir, serve_process

from zone.audit import verify_file
from zone.client import ZoneClient, ZoneClientError
from zone.client.stats import count

EPSILON = 0.01
KILLS = 3


def _stream(target: str, token: str, acked: list[str], stop: threading.Event) -> None:
    with ZoneClient(target, token=token, timeout=5) as client:
        while not stop.is_set():
            try:
                release = client.query_statistics("enterprise-stats", [count()], epsilon=EPSILON)
            except ZoneClientError:
                return  # the server died under us
            acked.append(release.release_id)


def _ledger(state: Path) -> tuple[int, dict[str, str], int]:
    conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        spent = conn.execute("SELECT coalesce(sum(epsilon_micro), 0) FROM budget_spend").fetchone()
        states = dict(conn.execute("SELECT release_id, state FROM charges"))
        charged = conn.execute(
            "SELECT coalesce(sum(epsilon_micro), 0) FROM charges WHERE state != 'refunded'"
        ).fetchone()
        return int(spent[0]), states, int(charged[0])
    finally:
        conn.close()


def test_kill9_during_queries_loses_and_doubles_nothing(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path)
    token = add_principal(config, "streamer", epsilon=1000.0)
    rng = random.Random(20261127)
    acked: list[str] = []
    for _ in range(KILLS):
        proc, target = serve_process(config)
        stop = threading.Event()
        threads = [
            threading.Thread(target=_stream, args=(target, token, acked, stop)) for _ in range(3)
        ]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.5, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stop.set()
        for t in threads:
            t.join(10)
        assert proc.stdout is not None
        proc.stdout.close()
    # Restart once more: recovery settles reservations the kills left open.
    proc, target = serve_process(config)
    try:
        with ZoneClient(target, token=token) as client:
            client.query_statistics("enterprise-stats", [count()], epsilon=EPSILON)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        assert proc.stdout is not None
        proc.stdout.close()
    spent, states, charged = _ledger(tmp_path / "state.sqlite")
    assert len(acked) > 10
    assert all(states.get(rid) == "released" for rid in acked)  # every acknowledged release
    assert "reserved" not in states.values()  # no charge left open after recovery
    assert spent == charged  # the budget equals the sum of charges: nothing doubled or lost
    assert spent >= (len(acked) + 1) * int(EPSILON * 1e6)
    assert verify_file(tmp_path / "state.sqlite").ok
