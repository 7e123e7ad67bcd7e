"""JobService end to end: real server, real worker processes, real Opacus training."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from zonekit import REPO, add_principal, make_zone_dir, running_zone, serve_process, target

from zone.access import budget_account
from zone.audit import RECEIPT_FIELDS
from zone.client import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    ZoneClient,
)
from zone.clock import today_utc
from zone.ledger import Account
from zone.server.app import RunningZone

PRODUCT = "enterprise-default-lr"
FAST = {"epochs": 2, "batch_size": 256}


@pytest.fixture(scope="module")
def train_zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningZone, str, str]]:
    config = make_zone_dir(tmp_path_factory.mktemp("train"), rows=4000, warm_workers=1)
    alice = add_principal(config, "alice", products=(PRODUCT,), epsilon=20.0, delta=1e-5)
    bob = add_principal(config, "bob", products=(PRODUCT,), epsilon=20.0, delta=1e-5)
    with running_zone(config) as zone:
        yield zone, alice, bob


def charges(zone: RunningZone) -> dict[str, str]:
    conn = sqlite3.connect(zone.services.config.state_db)
    try:
        return dict(conn.execute("SELECT release_id, state FROM charges"))
    finally:
        conn.close()


def wait_for(predicate: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def test_submit_watch_result(train_zone: tuple[RunningZone, str, str]) -> None:
    zone, alice, _ = train_zone
    with ZoneClient(target(zone), token=alice) as client:
        job = client.train(PRODUCT, epsilon=1.0, delta=1e-6, **FAST)
        assert job.last.state in {"QUEUED", "RUNNING"}
        assert job.last.reserved_epsilon == pytest.approx(1.0)
        seen = [s.state for s in job.watch()]
        assert seen[-1] == "SUCCEEDED", job.last.reason
        assert "RUNNING" in seen
        result = job.result()
    assert result.family == "logistic_regression"
    assert len(result.weights) == len(result.features) == 7
    assert 0.0 <= result.metrics["accuracy"] <= 1.0
    assert 0.0 <= result.metrics["auc"] <= 1.0  # DP AUC next to DP accuracy (issue 20)
    assert result.epsilon_training + result.epsilon_metrics <= 1.0 + 1e-9
    assert result.accountant == "prv"
    assert result.device in {"cpu", "cuda"}
    assert result.output_digest.startswith("sha256:")
    assert charges(zone)[result.release_id] == "released"
    receipts = [e.record for e in zone.services.audit.entries(limit=10_000) if e.kind == "release"]
    assert any(r["release_id"] == result.release_id for r in receipts)
    registered = zone.services.releases.get(result.release_id)  # receipt + artifact, for tracing
    assert registered.kind == "training" and registered.receipt["delta_femto"] == 10**9
    assert RECEIPT_FIELDS <= set(registered.receipt)
    assert registered.receipt["dataset_version"].startswith("sha256:")
    assert registered.artifact["weights"] == list(result.weights)


def test_keep_in_zone_releases_only_an_id_and_metrics(
    train_zone: tuple[RunningZone, str, str],
) -> None:
    zone, alice, _ = train_zone
    with ZoneClient(target(zone), token=alice) as client:
        result = client.train(PRODUCT, epsilon=0.5, delta=1e-6, keep_in_zone=True, **FAST).result()
    assert result.model_id and result.weights == () and result.layers == ()
    assert "accuracy" in result.metrics
    model = zone.services.training._models.get_model(result.model_id)
    assert model.owner == "alice"


def test_other_principals_cannot_see_a_job(train_zone: tuple[RunningZone, str, str]) -> None:
    zone, alice, bob = train_zone
    with ZoneClient(target(zone), token=alice) as a, ZoneClient(target(zone), token=bob) as b:
        job = a.train(PRODUCT, epsilon=0.2, delta=1e-6, **FAST)
        for call in (b.get_job, b.cancel_job, b.get_result):
            with pytest.raises(NotFoundError):
                call(job.job_id)
        assert job.job_id not in {s.job_id for s in b.list_jobs()}
        assert job.job_id in {s.job_id for s in a.list_jobs()}
        job.wait()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"product": "no-such-product"}, PermissionDeniedError),
        ({"product": "enterprise-stats"}, InvalidArgumentError),  # granted? no: not to alice
        ({"features": ["legal_rep_id"]}, InvalidArgumentError),  # L4
        ({"features": ["district"]}, InvalidArgumentError),  # not one of the product's features
        ({"epochs": 31}, InvalidArgumentError),  # product bounds [1, 30]
        ({"learning_rate": 0.0}, InvalidArgumentError),
        ({"epsilon": 2.5}, PermissionDeniedError),  # per-job cap 2.0
        ({"epsilon": float("nan")}, InvalidArgumentError),
        ({"delta": 0.5}, InvalidArgumentError),
        ({"epsilon": 1e-4}, InvalidArgumentError),  # too small to calibrate (issue 20)
        ({"epsilon": 1e-9}, InvalidArgumentError),
        ({"epsilon": 1e-300}, InvalidArgumentError),
        ({"delta": 1e-13}, InvalidArgumentError),  # below the accountant's resolution
    ],
)
def test_bad_submissions_are_refused_and_spend_nothing(
    train_zone: tuple[RunningZone, str, str], kwargs: dict[str, object], error: type[Exception]
) -> None:
    zone, alice, _ = train_zone
    if kwargs.get("product") == "enterprise-stats":
        error = PermissionDeniedError  # alice holds no grant for it
    args: dict[str, object] = {"product": PRODUCT, "epsilon": 0.5, "delta": 1e-6, **kwargs}
    before = len(charges(zone))
    with ZoneClient(target(zone), token=alice) as client:
        jobs = len(client.list_jobs())
        with pytest.raises(error):  # type: ignore[arg-type]
            client.train(**args)  # type: ignore[arg-type]
        assert len(client.list_jobs()) == jobs  # no job, so no quota slot taken
    assert len(charges(zone)) == before


def test_cancel_a_queued_job_refunds_it(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path, rows=2000)
    token = add_principal(config, "carol", products=(PRODUCT,), epsilon=3.0, delta=1e-5)
    with running_zone(config) as zone, ZoneClient(target(zone), token=token) as client:
        first = client.train(PRODUCT, epsilon=1.0, delta=1e-6, epochs=30, batch_size=64)
        second = client.train(PRODUCT, epsilon=1.0, delta=1e-6, **FAST)  # waits: one at a time
        assert second.status().state == "QUEUED"
        assert second.cancel().state == "CANCELLED"
        assert first.cancel().state in {"RUNNING", "CANCELLED"}
        wait_for(lambda: first.status().done)
        assert first.last.state == "CANCELLED"
        with pytest.raises(FailedPreconditionError):
            first.cancel()
        with pytest.raises(FailedPreconditionError):
            client.get_result(first.job_id)
        states = charges(zone)
        rid = zone.services.training._jobs.get(second.job_id).release_id
        assert states[rid] == "refunded"
        # 3.0 - 1.0 (first, cancelled after touching data, or refunded if it had not yet)
        touched = zone.services.training._jobs.get(first.job_id).touched_data
        spent = zone.services.ledger.balance(_account(zone, "carol")).spent.epsilon
        assert spent == pytest.approx(1.0 if touched else 0.0)


def _account(zone: RunningZone, who: str) -> Account:
    policies = zone.services.serving.current
    principal = policies.principals[who]
    grant = policies.granted_products(principal, today_utc())[PRODUCT]
    return budget_account(policies, principal, grant, "enterprises")


def test_budget_exhausted_is_resource_exhausted(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path, rows=2000)
    token = add_principal(config, "dave", products=(PRODUCT,), epsilon=1.0, delta=1e-5)
    with running_zone(config) as zone, ZoneClient(target(zone), token=token) as client:
        client.train(PRODUCT, epsilon=0.8, delta=1e-6, **FAST)
        with pytest.raises(ResourceExhaustedError):
            client.train(PRODUCT, epsilon=0.5, delta=1e-6, **FAST)


@pytest.mark.parametrize(
    ("limits", "reason"),
    [("  wall_time_seconds: 3\n", "wall-time"), ("  memory_mb: 64\n", "memory")],
)
def test_job_limits_fail_cleanly(tmp_path: Path, limits: str, reason: str) -> None:
    config = make_zone_dir(tmp_path, rows=2000, extra_config="jobs:\n" + limits)
    token = add_principal(config, "erin", products=(PRODUCT,), epsilon=50.0, delta=1e-5)
    with running_zone(config) as zone, ZoneClient(target(zone), token=token) as client:
        job = client.train(PRODUCT, epsilon=1.0, delta=1e-6, epochs=30, batch_size=64)
        final = job.wait()
        assert final.state == "FAILED" and reason in final.reason
        assert client.list_jobs()  # the server keeps serving


def test_restart_fails_running_jobs_and_applies_the_charging_rule(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path, rows=2000, warm_workers=1)
    token = add_principal(config, "frank", products=(PRODUCT,), epsilon=5.0, delta=1e-5)
    proc, address = serve_process(config)
    with ZoneClient(address, token=token) as client:
        job = client.train(PRODUCT, epsilon=1.0, delta=1e-6, epochs=30, batch_size=64)
        wait_for(lambda: job.status().state == "RUNNING" and job.last.epoch >= 1)
    proc.kill()
    proc.wait()
    proc.stdout.close()
    with running_zone(config) as zone, ZoneClient(target(zone), token=token) as client:
        final = client.get_job(job.job_id)
        assert final.state == "FAILED" and final.reason == "server restarted"
        stored = zone.services.training._jobs.get(job.job_id)
        assert stored.touched_data
        assert charges(zone)[stored.release_id] == "failed"  # touched data: stays charged


def test_server_process_never_imports_torch(tmp_path: Path) -> None:
    config = make_zone_dir(tmp_path, rows=2000, warm_workers=1)  # workers preload torch
    token = add_principal(config, "gina", products=(PRODUCT,), epsilon=5.0, delta=1e-5)
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(REPO / 'tests')!r})\n"
        "from zonekit import running_zone, target\n"
        "from zone.client import ZoneClient\n"
        f"with running_zone(__import__('pathlib').Path({str(config)!r})) as zone:\n"
        f"    with ZoneClient(target(zone), token={token!r}) as c:\n"
        f"        r = c.train({PRODUCT!r}, epsilon=0.5, delta=1e-6, epochs=1).result()\n"
        "print('torch' in sys.modules, 'opacus' in sys.modules, len(r.weights))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.split() == ["False", "False", "7"]


def test_a_second_job_with_the_same_numbers_reuses_the_noise_multiplier(
    train_zone: tuple[RunningZone, str, str],
) -> None:
    zone, _, bob = train_zone
    jobs = zone.services.training._jobs
    with ZoneClient(target(zone), token=bob) as client:
        first = client.train(PRODUCT, epsilon=0.7, delta=1e-6, **FAST)
        first.result()
        second = client.train(PRODUCT, epsilon=0.7, delta=1e-6, **FAST)
        second.result()
        other = client.train(PRODUCT, epsilon=0.7, delta=1e-6, epochs=3, batch_size=256)
        other.result()
    sigma = jobs.get(first.job_id).result["noise_multiplier"]  # type: ignore[index]
    assert jobs.get(first.job_id).spec["noise_multiplier_hint"] is None  # searched
    assert jobs.get(second.job_id).spec["noise_multiplier_hint"] == sigma  # confirmed, reused
    assert jobs.get(second.job_id).result["noise_multiplier"] == sigma  # type: ignore[index]
    assert jobs.get(other.job_id).spec["noise_multiplier_hint"] is None  # other steps: searched
