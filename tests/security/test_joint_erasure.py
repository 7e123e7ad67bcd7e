"""Cohort erasure: no trace of the values anywhere the zone writes; kill -9 leaves nothing behind.

* Marker values (keys, an operator feature) are uploaded, trained on and erased at job end;
  afterwards every file under the zone's folder (state database with its WAL, datasets
  database, cohort directory, job files) and the server's log are scanned for them: as text and
  as the 8 bytes of the double. Before erasure the same scan finds them in the cohort file (the
  scan works).
* kill -9 while an upload streams: after a restart nothing of it is left, not even partial files.
* kill -9 while a joint job trains: after a restart the job is failed (charged: it touched the
  data) and its cohort is erased, with a receipt.
* Retention: a cohort past its product's ``retention_hours`` is erased by the sweep.
"""

from __future__ import annotations

import logging
import secrets
import signal
import sqlite3
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jointkit import ALPHABET, PRODUCT, cohort_rows, files_under, make_joint_zone, schema, to_csv
from zonekit import running_zone, serve_process, target

from zone._proto import cohorts_pb2
from zone.client import ZoneClient, ZoneClientError
from zone.client.cohorts import schema_to_proto

ROWS = 400
FAST = {"epochs": 2, "batch_size": 64}


def _markers(count: int) -> list[str]:
    return ["".join(secrets.choice(ALPHABET) for _ in range(18)) for _ in range(count)]


def _needles(keys: list[str], amounts: list[float]) -> dict[str, bytes]:
    needles = {f"key {k}": k.encode() for k in keys}
    for amount in amounts:
        needles[f"amount text {amount!r}"] = repr(amount).encode()
        needles[f"amount double {amount!r}"] = struct.pack("<d", amount)
    return needles


def _found(root: Path, needles: dict[str, bytes], extra: bytes = b"") -> list[str]:
    hits = []
    for path in files_under(root):
        content = path.read_bytes()
        hits += [f"{name} in {path}" for name, needle in needles.items() if needle in content]
    hits += [f"{name} in the log" for name, needle in needles.items() if needle in extra]
    return hits


def test_no_trace_of_cohort_values_after_erasure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config, tokens = make_joint_zone(tmp_path / "zone", rows=1000)
    rows = cohort_rows(config, ROWS, seed=11)
    keys = _markers(20)
    amounts = [1234.0 + int.from_bytes(secrets.token_bytes(3), "big") / 2**24 for _ in range(5)]
    for i, key in enumerate(keys):  # markers as firms unknown to the registry ...
        rows[i]["uscc"] = key
    for i, amount in enumerate(amounts):  # ... and as the bank's own values
        rows[40 + i]["loan_amount"] = amount
    needles = _needles(keys, amounts)
    with running_zone(config) as zone, ZoneClient(target(zone), token=tokens["opa"]) as bank:
        record = bank.upload_cohort(to_csv(rows), schema())
        cohort_dir = zone.services.config.joint_config.cohorts_dir
        assert _found(cohort_dir, needles), "the scan must see the markers before erasure"
        job = bank.train_joint(PRODUCT, record.upload_id, epsilon=1.0, delta=1e-6, **FAST)
        assert job.wait().state == "SUCCEEDED"
        assert bank.describe_cohort(record.upload_id).state == "erased"
        log = "\n".join(r.getMessage() for r in caplog.records).encode()
        assert _found(config.parent, needles, log) == []
    assert _found(config.parent, needles) == []  # after shutdown (WAL checkpointed) too


def _stream(data: bytes, stalled: list[bool]) -> Iterator[cohorts_pb2.CohortChunk]:
    yield cohorts_pb2.CohortChunk(schema=schema_to_proto(schema()))
    for start in range(0, len(data), 4096):
        yield cohorts_pb2.CohortChunk(data=data[start : start + 4096])
        if start > len(data) // 2:
            stalled[0] = True
            time.sleep(60)  # the server is killed meanwhile


def _cohort_rows_in_state(config: Path) -> int:
    conn = sqlite3.connect(config.parent / "state.sqlite")
    try:
        return int(conn.execute("SELECT count(*) FROM cohorts").fetchone()[0])
    finally:
        conn.close()


def test_kill_during_upload_leaves_nothing(tmp_path: Path) -> None:
    import threading

    config, tokens = make_joint_zone(tmp_path / "zone", rows=1000)
    data = to_csv(cohort_rows(config, ROWS, seed=12))
    cohort_dir = config.parent / "cohorts"
    proc, address = serve_process(config)
    stalled = [False]
    try:
        client = ZoneClient(address, token=tokens["opa"], timeout=120)
        errors: list[BaseException] = []

        def upload() -> None:
            try:
                client._cohorts.UploadCohort(_stream(data, stalled), metadata=client._metadata)  # noqa: SLF001
            except Exception as exc:  # noqa: BLE001 - the server dies under it
                errors.append(exc)

        thread = threading.Thread(target=upload, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not (stalled[0] and any(p.name.startswith(".") for p in files_under(cohort_dir))):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert any(p.name.startswith(".upload-") for p in files_under(cohort_dir))
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
    proc, address = serve_process(config)  # restart: leftovers are shredded
    try:
        assert files_under(cohort_dir) == []
        assert _cohort_rows_in_state(config) == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        if proc.stdout:
            proc.stdout.close()


def test_kill_during_training_then_restart_erases_the_cohort(tmp_path: Path) -> None:
    config, tokens = make_joint_zone(tmp_path / "zone", rows=1000)
    data = to_csv(cohort_rows(config, ROWS, seed=13))
    proc, address = serve_process(config)
    try:
        with ZoneClient(address, token=tokens["opa"], timeout=30) as bank:
            record = bank.upload_cohort(data, schema())
            job = bank.train_joint(PRODUCT, record.upload_id, epsilon=1.0, delta=1e-6,
                                   epochs=30, batch_size=32)  # fmt: skip
            deadline = time.monotonic() + 60
            while bank.get_job(job.job_id).state != "RUNNING":
                assert time.monotonic() < deadline
                time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
    assert (config.parent / "cohorts" / f"{record.upload_id}.parquet").exists()
    proc, address = serve_process(config)
    try:
        with ZoneClient(address, token=tokens["opa"], timeout=30) as bank:
            status = bank.get_job(job.job_id)
            erased = bank.describe_cohort(record.upload_id)
            receipt = bank.get_receipt(erased.erasure_id).receipt
        assert status.state == "FAILED" and "restart" in status.reason
        assert erased.state == "erased" and erased.erase_trigger == "job_end"
        assert receipt["upload_digest"] == record.digest
        assert files_under(config.parent / "cohorts") == []
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        if proc.stdout:
            proc.stdout.close()


def test_retention_sweep_erases_expired_cohorts(tmp_path: Path) -> None:
    config, tokens = make_joint_zone(tmp_path / "zone", rows=1000)
    config.write_text(config.read_text() + "joint: {sweep_seconds: 0.2}\n")
    product = config.parent / "models" / "enterprise-joint.yaml"
    product.write_text(
        product.read_text().replace("retention_hours: 72", "retention_hours: 0.0003")
    )
    with running_zone(config) as zone, ZoneClient(target(zone), token=tokens["opa"]) as bank:
        record = bank.upload_cohort(to_csv(cohort_rows(config, ROWS, seed=14)), schema())
        deadline = time.monotonic() + 20
        while bank.describe_cohort(record.upload_id).state != "erased":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        erased = bank.describe_cohort(record.upload_id)
        assert erased.erase_trigger == "retention"
        with pytest.raises(ZoneClientError):
            bank.train_joint(PRODUCT, record.upload_id, epsilon=1.0, delta=1e-6, **FAST)
