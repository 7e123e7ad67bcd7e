"""Joint modeling end to end over gRPC: cohort uploads, erasure with receipts (small data)."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from jointkit import (
    COLUMNS,
    JOINT_EXAMPLES,
    PRODUCT,
    cohort_rows,
    files_under,
    make_joint_zone,
    registry,
    schema,
    to_csv,
)
from zonekit import TOKENS, bulk_consents, running_zone, target

from zone._proto import cohorts_pb2, cohorts_pb2_grpc
from zone.audit.keys import generate_key, load_public_key
from zone.cli import main
from zone.client import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ZoneClient,
)
from zone.client.cohorts import schema_to_proto
from zone.client.receipts import verify_bundle
from zone.jobs import JobStore
from zone.models.registry import ModelRegistry
from zone.server.app import RunningZone

ROWS = 400


@pytest.fixture(scope="module")
def joint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningZone, dict[str, str]]]:
    config, tokens = make_joint_zone(tmp_path_factory.mktemp("joint") / "zone", rows=1000)
    with running_zone(config) as zone:
        yield zone, tokens


def _client(zone: RunningZone, token: str) -> ZoneClient:
    return ZoneClient(target(zone), token=token, timeout=30)


def _cohort_dir(zone: RunningZone) -> Path:
    return zone.services.config.joint_config.cohorts_dir


def _rows_in_state(zone: RunningZone) -> int:
    conn = sqlite3.connect(zone.services.config.state_db)
    try:
        return int(conn.execute("SELECT count(*) FROM cohorts").fetchone()[0])
    finally:
        conn.close()


def test_upload_describe_and_erase_with_receipt(joint: tuple[RunningZone, dict[str, str]]) -> None:
    zone, tokens = joint
    config = zone.services.config.source
    data = to_csv(cohort_rows(config, ROWS))
    with _client(zone, tokens["opa"]) as bank:
        record = bank.upload_cohort(data, schema())
        assert record.digest == "sha256:" + hashlib.sha256(data).hexdigest()
        assert (record.rows, record.size_bytes, record.state) == (ROWS, len(data), "stored")
        assert record.product == PRODUCT and record.expires_at > record.created_at
        stored = _cohort_dir(zone) / f"{record.upload_id}.parquet"
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600
        assert [p.name for p in files_under(_cohort_dir(zone))] == [stored.name]
        assert bank.describe_cohort(record.upload_id) == record
        assert record.upload_id in [c.upload_id for c in bank.list_cohorts()]
        erased = bank.erase_cohort(record.upload_id)
        assert erased.state == "erased" and erased.erase_trigger == "request"
        assert not stored.exists()
        bundle = bank.get_receipt(erased.erasure_id)
    receipt = bundle.receipt
    assert receipt["kind"] == "cohort.erasure" and receipt["upload_digest"] == record.digest
    assert (receipt["rows"], receipt["principal"], receipt["epsilon_micro"]) == (ROWS, "opa", 0)
    assert receipt["bytes_overwritten"] > 0 and receipt["deleted"]
    upload = [e for e in zone.services.audit.entries(limit=10_000) if e.kind == "cohort.upload"]
    assert upload[-1].record["upload_digest"] == record.digest


def test_another_principal_and_admins_see_nothing(
    joint: tuple[RunningZone, dict[str, str]],
) -> None:
    zone, tokens = joint
    data = to_csv(cohort_rows(zone.services.config.source, ROWS, seed=2))
    with _client(zone, tokens["opa"]) as bank:
        upload_id = bank.upload_cohort(data, schema()).upload_id
    for token in (tokens["opb"], TOKENS["admin"]):
        with _client(zone, token) as other:
            with pytest.raises(NotFoundError) as theirs:
                other.describe_cohort(upload_id)
            with pytest.raises(NotFoundError) as unknown:
                other.describe_cohort("0" * 32)
            assert theirs.value.message == unknown.value.message
            with pytest.raises(NotFoundError):
                other.erase_cohort(upload_id)
            assert upload_id not in [c.upload_id for c in other.list_cohorts()]
    with _client(zone, tokens["opa"]) as bank:
        assert bank.erase_cohort(upload_id).state == "erased"


def test_a_product_not_granted_is_refused_before_any_data(
    joint: tuple[RunningZone, dict[str, str]],
) -> None:
    zone, _ = joint
    with _client(zone, TOKENS["bank"]) as bank, pytest.raises(PermissionDeniedError):
        bank.upload_cohort(b"uscc,defaulted\n", schema())


def _refusal(zone: RunningZone, token: str, data: bytes, cohort: dict[str, object]) -> str:
    """Upload and expect INVALID_ARGUMENT with nothing stored; return the whole error text."""
    before_rows, before_files = _rows_in_state(zone), files_under(_cohort_dir(zone))
    with _client(zone, token) as bank, pytest.raises(InvalidArgumentError) as refused:
        bank.upload_cohort(data, cohort)
    assert _rows_in_state(zone) == before_rows
    assert files_under(_cohort_dir(zone)) == before_files
    return refused.value.message + " ".join(refused.value.details)


def test_hostile_uploads_are_refused_with_counts_and_nothing_is_stored(
    joint: tuple[RunningZone, dict[str, str]],
) -> None:
    zone, tokens = joint

    def refusal(data: bytes, cohort: dict[str, object] | None = None) -> str:
        return _refusal(zone, tokens["opa"], data, cohort or schema())

    rows = cohort_rows(zone.services.config.source, ROWS, seed=3)
    secret = str(rows[7]["uscc"])
    message = refusal(to_csv([*rows, rows[5], rows[9]]))
    assert "2 row(s) repeat the key" in message and f"data row {ROWS + 1}" in message
    bad = [dict(r) for r in rows]
    bad[3]["days_overdue"], bad[4]["days_overdue"] = "lots", "1.5"
    bad[8]["channel"], bad[10]["defaulted"] = "carrier pigeon", "maybe"
    message = refusal(to_csv(bad))
    assert "'days_overdue': 2 value(s)" in message and "data row 4" in message
    assert "'channel': 1 value(s)" in message and "'defaulted': 1 value(s)" in message
    assert not any(value in message for value in ("lots", "pigeon", "maybe"))
    keys = [dict(r) for r in rows]
    keys[0]["uscc"], keys[1]["uscc"], keys[2]["uscc"] = "", "   ", "not a credit code"
    message = refusal(to_csv(keys))
    assert "2 row(s) have no value (first in data row 1)" in message
    assert "1 value(s) are malformed" in message and "not a credit code" not in message
    message = refusal(to_csv([{**r, "loan_amount": ""} for r in rows]))
    assert f"'loan_amount': {ROWS} row(s) have no value" in message
    huge = [dict(r) for r in rows]
    huge[6]["channel"] = "x" * 10_000_000
    assert "line longer than" in refusal(to_csv(huge))
    latin1 = to_csv(rows).replace(secret.encode(), secret[:-1].encode() + b"\xe9", 1)
    assert "not valid UTF-8" in refusal(latin1)
    assert "needs at least 200" in refusal(to_csv(rows[:50]))
    assert "'extra' is not declared" in refusal(to_csv(rows, (*COLUMNS, "extra")))
    assert "'channel' is not in the file" in refusal(to_csv(rows, COLUMNS[:-1]))
    assert "empty" in refusal(b"")
    odd = schema(label={"column": "defaulted", "kind": "odd"})
    assert "kind must be binary" in refusal(to_csv(rows), odd)
    assert secret not in message


def test_truncated_or_altered_streams_store_nothing(
    joint: tuple[RunningZone, dict[str, str]],
) -> None:
    zone, tokens = joint
    data = to_csv(cohort_rows(zone.services.config.source, ROWS, seed=4))
    head = cohorts_pb2.CohortChunk(schema=schema_to_proto(schema()))
    body = cohorts_pb2.CohortChunk(data=data)
    cut = cohorts_pb2.CohortChunk(data=data[: len(data) // 2])
    end = cohorts_pb2.CohortEnd(total_bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    streams = {
        "no end marker": [head, body],
        "cut short": [head, cut, cohorts_pb2.CohortChunk(end=end)],
        "no schema": [body, cohorts_pb2.CohortChunk(end=end)],
        "data after end": [head, body, cohorts_pb2.CohortChunk(end=end), body],
    }
    rows, files = _rows_in_state(zone), files_under(_cohort_dir(zone))
    stub = cohorts_pb2_grpc.CohortServiceStub(grpc.insecure_channel(target(zone)))
    auth = (("authorization", f"Bearer {tokens['opa']}"),)
    for name, chunks in streams.items():
        with pytest.raises(grpc.RpcError) as refused:
            stub.UploadCohort(iter(chunks), metadata=auth, timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name  # type: ignore[attr-defined]
    assert _rows_in_state(zone) == rows and files_under(_cohort_dir(zone)) == files


def test_cli_upload_checks_the_schema_file_with_lines(
    joint: tuple[RunningZone, dict[str, str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    zone, tokens = joint
    (tmp_path / "token").write_text(tokens["opa"])
    (tmp_path / "cohort.csv").write_bytes(to_csv(cohort_rows(zone.services.config.source, ROWS)))
    (tmp_path / "cohort.yaml").write_text((JOINT_EXAMPLES / "cohort.yaml").read_text())
    common = ["--target", target(zone), "--token-file", str(tmp_path / "token")]
    args = ["cohorts", "upload", str(tmp_path / "cohort.csv"), "--schema"]
    assert main([*args, str(tmp_path / "cohort.yaml"), *common]) == 0
    upload_id = capsys.readouterr().out.split()[0]
    assert main(["cohorts", "describe", upload_id, *common]) == 0
    assert f"{ROWS} rows" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("product: enterprise-joint\npurpose: x\nkey: uscc\nlabel:\n  column: d\n"
                   "  kind: sideways\n")  # fmt: skip
    assert main([*args, str(bad), *common]) == 1
    assert f"{bad}:6: kind must be binary" in capsys.readouterr().err
    assert main(["cohorts", "erase", upload_id, *common]) == 0
    assert "erased" in capsys.readouterr().out


FAST = {"epochs": 2, "batch_size": 64}


def test_estimate_train_watch_result_and_erasure_at_job_end(
    joint: tuple[RunningZone, dict[str, str]],
) -> None:
    zone, tokens = joint
    data = to_csv(cohort_rows(zone.services.config.source, ROWS, seed=5))
    with _client(zone, tokens["opb"]) as bank:
        record = bank.upload_cohort(data, schema())
        plan = bank.estimate_joint(PRODUCT, record.upload_id, epsilon=1.0, delta=1e-6, **FAST)
        assert plan.dp_matched is None and plan.cohort_rows == ROWS
        assert plan.steps == 2 * 5 and plan.charged_epsilon == 1.0
        assert 2 * plan.epsilon_dpsgd + plan.epsilon_metrics <= 1.0
        counted = bank.estimate_joint(PRODUCT, record.upload_id, epsilon=1.0, delta=1e-6,
                                      dp_match_count=True, **FAST)  # fmt: skip
        assert counted.dp_matched is not None and abs(counted.dp_matched - 0.9 * ROWS) < 400
        assert bank.get_receipt(counted.match_release_id).receipt["epsilon_micro"] == 50_000
        job = bank.train_joint(PRODUCT, record.upload_id, epsilon=1.0, delta=1e-6, **FAST)
        with pytest.raises(FailedPreconditionError):  # one job at a time on a cohort
            bank.train_joint(PRODUCT, record.upload_id, epsilon=1.0, delta=1e-6, **FAST)
        final = job.wait()
        assert final.state == "SUCCEEDED", final.reason
        result = job.result()
        erased = bank.describe_cohort(record.upload_id)
        receipt = bank.get_receipt(result.release_id).receipt
    assert result.features[-6:] == (
        "zone.missing", "operator.loan_amount", "operator.days_overdue",
        "operator.channel=branch", "operator.channel=online", "operator.channel=partner",
    )  # fmt: skip
    assert result.features[:2] == ("zone.industry=A", "zone.industry=B")
    assert len(result.weights) == len(result.features)
    assert set(result.metrics) == {"accuracy", "auc"}
    assert "replace-one" in result.guarantee and result.charged_epsilon == 1.0
    assert result.epsilon_training + result.epsilon_metrics <= 1.0
    assert receipt["kind"] == "joint_training" and receipt["upload_digest"] == record.digest
    assert receipt["accounting"].startswith("replace-one charged as 2 x")
    assert erased.state == "erased" and erased.erase_trigger == "job_end"
    assert not (_cohort_dir(zone) / f"{record.upload_id}.parquet").exists()


ZONE_NUMERIC = ["founded_year", "registered_capital", "employees", "insured_staff", "tax_paid",
                "utility_arrears", "penalties"]  # fmt: skip
CALLER_BOUNDS = {"loan_amount": (0.0, 5000.0), "days_overdue": (0.0, 365.0)}


def _crafted_joint_model(zone: RunningZone, owner: str) -> tuple[str, dict[str, Any]]:
    """A kept joint model as the joint worker leaves one (the worker itself is not run)."""
    meta = zone.services.catalog.get("enterprises").meta
    zone_scaling = [{"column": c, "kind": "numeric", "bounds": list(meta.columns[c].bounds or ())}
                    for c in ("employees", "tax_paid", "penalties")]  # fmt: skip
    operator = [{"column": n, "kind": "numeric", "bounds": list(b)}
                for n, b in CALLER_BOUNDS.items()]  # fmt: skip
    inputs = ["zone.employees", "zone.tax_paid", "zone.penalties", "zone.missing",
              "operator.loan_amount", "operator.days_overdue"]  # fmt: skip
    model = {"family": "logistic_regression", "features": inputs,
             "weights": [-1.0, -0.8, 1.5, 2.0, 0.7, 2.2], "intercept": -1.5,
             "scaling": {"zone": zone_scaling, "operator": operator, "inputs": inputs}}  # fmt: skip
    jobs = JobStore(zone.services.store, zone.services.audit)
    models = ModelRegistry(zone.services.store, zone.services.audit)
    job = jobs.create(principal=owner, product=PRODUCT, dataset="enterprises",
                      spec={"keep_in_zone": True}, release_id="")  # fmt: skip
    return models.save_model(owner=owner, product=PRODUCT, job_id=job.job_id, model=model,
                             metrics={}), model  # fmt: skip


def test_kept_joint_model_scores_only_after_approval_with_encrypted_operator_features(
    joint: tuple[RunningZone, dict[str, str]],
) -> None:
    zone, tokens = joint
    data = to_csv(cohort_rows(zone.services.config.source, ROWS, seed=6))
    firms = registry(zone.services.config.source)[:3]
    with _client(zone, tokens["opa"]) as bank, _client(zone, TOKENS["admin"]) as admin:
        record = bank.upload_cohort(data, schema())
        job = bank.train_joint(PRODUCT, record.upload_id, epsilon=2.0, delta=1e-6, **FAST,
                               keep_in_zone=True, zone_features=ZONE_NUMERIC,
                               operator_features=list(CALLER_BOUNDS))  # fmt: skip
        result = job.result()
        assert result.model_id and result.weights == ()
        keys = bank.he.new_keys("ckks-8192")
        bank.register_key(keys)
        features = {"loan_amount": [100.0, 2500.0, 4000.0], "days_overdue": [0.0, 90.0, 365.0]}
        subjects = [f["uscc"] for f in firms]
        with pytest.raises(FailedPreconditionError, match="not approved"):
            bank.score_kept("capital-match", keys, subjects, features, purpose="x",
                            model_id=result.model_id, caller_bounds=CALLER_BOUNDS)  # fmt: skip
        review = admin.review_model(result.model_id, "capital-match")
        assert {f.name for f in review.features if f.side == "caller"} == set(CALLER_BOUNDS)
        model_id, model = _crafted_joint_model(zone, "opa")
        assert not admin.review_model(model_id, "capital-match").problems
        admin.decide_model(model_id, "capital-match", approve=True, reason="joint, DP-trained")
        consents = bulk_consents(zone, "opa", "capital-match", subjects, "joint")
        report = bank.score_kept("capital-match", keys, subjects, features, purpose="joint",
                                 model_id=model_id, caller_bounds=CALLER_BOUNDS,
                                 consents=consents)  # fmt: skip
    weights = dict(zip(model["features"], model["weights"], strict=True))
    for i, (firm, result_row) in enumerate(zip(firms, report, strict=True)):
        expected = model["intercept"]
        for s in model["scaling"]["zone"]:
            low, high = s["bounds"]
            value = (min(max(float(firm[s["column"]]), low), high) - low) / (high - low)
            expected += weights[f"zone.{s['column']}"] * value
        for name, (low, high) in CALLER_BOUNDS.items():
            expected += weights[f"operator.{name}"] * (features[name][i] - low) / (high - low)
        assert abs(result_row.logit - expected) < 0.5  # the product's score resolution: 0.05


def test_erasure_receipt_verifies_offline_against_a_signed_checkpoint(tmp_path: Path) -> None:
    generate_key(tmp_path / "zone.key")
    signing = "audit: {signing_key: ../zone.key}\n"
    config, tokens = make_joint_zone(tmp_path / "zone", rows=1000, extra_config=signing)
    data = to_csv(cohort_rows(config, ROWS, seed=8))
    with running_zone(config) as zone, _client(zone, tokens["opa"]) as bank:
        record = bank.erase_cohort(bank.upload_cohort(data, schema()).upload_id)
        assert main(["audit", "checkpoint", "--config", str(config), "--out",
                     str(tmp_path / "cp.json")]) == 0  # fmt: skip
        bundle = bank.get_receipt(record.erasure_id)
    assert verify_bundle(bundle, trusted=load_public_key(tmp_path / "zone.key.pub")) == ""
    assert bundle.receipt["kind"] == "cohort.erasure"
    assert bundle.receipt["upload_digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
