"""kill -9 the server under concurrent calls: every answered call has its ``rpc`` record.

A call's ``rpc`` record is in the server's journal file before its reply leaves
(``zone.audit.journal``); a thread drains the journal into the chain in batches, and the next
start replays what a kill left undrained. Several client threads call ListDatasets as fast as
they can while the server is SIGKILLed at a random moment, three server lives in a row on one
state database. After each restart (and once more after a graceful stop), every call a client
saw succeed (its ``x-request-id``) has exactly one ``rpc`` record saying OK, and the chain
verifies.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import threading
import time
from pathlib import Path

import grpc
import pytest
from zonekit import TOKENS, client, make_zone_dir, serve_process

from zone._proto import catalog_pb2
from zone.audit import verify_file
from zone.audit.journal import journal_folder
from zone.client import UnavailableError
from zone.server.app import RunningZone

METHOD = "/zone.v1.CatalogService/ListDatasets"
CLIENTS = 6
KILLS = 3


def _calls_until_dead(target: str, acked: list[str], stop: threading.Event) -> None:
    request = catalog_pb2.ListDatasetsRequest().SerializeToString()
    metadata = (("authorization", f"Bearer {TOKENS['bank']}"),)
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(METHOD)
        while not stop.is_set():
            try:
                _, outcome = call.with_call(request, metadata=metadata, timeout=10)
            except grpc.RpcError:
                return  # the server died under us: this call was not answered
            trailing = dict(outcome.trailing_metadata() or ())
            acked.append(str(trailing["x-request-id"]))


def _rpc_records(state_db: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(state_db.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT request_id, record FROM audit_log WHERE kind = 'rpc'")
        found: dict[str, list[str]] = {}
        for request_id, record in rows:
            found.setdefault(str(request_id), []).append(json.loads(record)["status"])
        return found
    finally:
        conn.close()


def test_sigkill_under_concurrent_calls_loses_no_answered_calls_record(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path / "zone", rows=2_000)
    state_db = tmp_path / "zone" / "state.sqlite"
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    acked: list[str] = []
    for kill in range(KILLS + 1):
        proc, target = serve_process(config)  # replays what the last life left in its journal
        _check(state_db, acked, f"seed {seed}, after kill {kill}")
        if kill == KILLS:
            proc.send_signal(signal.SIGTERM)  # a graceful stop drains the journal
            assert proc.wait(60) == 0
            assert proc.stdout is not None
            proc.stdout.close()
            break
        stop = threading.Event()
        threads = [
            threading.Thread(target=_calls_until_dead, args=(target, acked, stop))
            for _ in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.5, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stop.set()
        for thread in threads:
            thread.join(15)
        assert proc.stdout is not None
        proc.stdout.close()
    _check(state_db, acked, f"seed {seed}, after the graceful stop")
    assert not list(journal_folder(state_db).glob("serve.0*")), "a drained journal is deleted"
    assert len(acked) > 100 * KILLS, f"seed {seed}: too few calls to mean anything"


def _check(state_db: Path, acked: list[str], where: str) -> None:
    result = verify_file(state_db)
    assert result.ok, f"{where}: {result}"
    records = _rpc_records(state_db)
    missing = [rid for rid in acked if records.get(rid) != ["OK"]]
    assert missing == [], f"{where}: {len(missing)} answered calls unrecorded or recorded twice"


def test_a_call_whose_record_the_journal_cannot_take_fails_closed(zone: RunningZone) -> None:
    """A journal that cannot be written (here: closed under the server) fails the call.

    The reply is UNAVAILABLE, with no data, and nothing about the call reaches the chain.
    """
    journal = zone.services.audit._journal
    assert journal is not None  # a SQLite state serves with a journal
    with client(zone, "bank") as bank:
        bank.list_datasets()
        before = len(zone.services.audit.entries(limit=10_000))
        journal.close()  # what a full disk or a full journal looks like to the call
        with pytest.raises(UnavailableError):
            bank.list_datasets()
    assert len(zone.services.audit.entries(limit=10_000)) == before
