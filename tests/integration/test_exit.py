"""A principal's exit (``zone operators exit``) against a real zone: stop, wind down, receipt.

A real server on port 0 with its console, real DuckDB and SQLite files, a signing key for
checkpoints; the exiting operator has a release, a running joint job reading one cohort, a
second cohort and a registered Score key; the admin exits it through the CLI (gRPC), another
through the console, while that one keeps calling from several threads.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from consolekit import Browser, add_supervisor
from jointkit import PRODUCT, cohort_rows, make_joint_zone, schema, to_csv
from zonekit import TOKENS, running_zone, target

from zone.audit.keys import generate_key, load_public_key, public_key_path
from zone.cli import main
from zone.client import (
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
    ZoneClient,
)
from zone.client.receipts import verify_bundle
from zone.client.stats import count
from zone.clock import today_utc
from zone.errors import PermissionDenied
from zone.release.desk import Order
from zone.server.app import RunningZone
from zone.wire.receipts import load_bundle

STATS = "enterprise-stats"
OPEN_CHARGES = "SELECT 1 FROM charges WHERE principal = ? AND state = 'reserved'"
CONFIG = (
    "audit: {signing_key: ../zone.key}\n"
    "console:\n  listen: 127.0.0.1:0\n  alerts:\n    interval_seconds: 3600\n"
)


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningZone, dict[str, str]]]:
    root = tmp_path_factory.mktemp("exit")
    generate_key(root / "zone.key")
    config, tokens = make_joint_zone(root / "zone", rows=1000, extra_config=CONFIG)
    tokens["supervisor"] = add_supervisor(config)
    with running_zone(config) as running:
        yield running, tokens


def _client(running: RunningZone, token: str) -> ZoneClient:
    return ZoneClient(target(running), token=token, timeout=60)


def _records(running: RunningZone) -> list[tuple[int, str, dict[str, Any]]]:
    return [(e.seq, e.kind, dict(e.record)) for e in running.services.audit.entries(limit=10_000)]


def _rows(running: RunningZone, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with running.services.store.read() as tx:
        return [tuple(r) for r in tx.execute(sql, args).fetchall()]


def _cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


def test_exit_stops_cancels_erases_settles_and_receipts(zone, tmp_path: Path) -> None:
    running, tokens = zone
    config = str(running.services.config.source)
    data = to_csv(cohort_rows(running.services.config.source, 400, seed=3))
    with _client(running, tokens["opa"]) as bank:
        bank.query_statistics(STATS, [count()], epsilon=0.1)
        read = bank.upload_cohort(data, schema())
        idle = bank.upload_cohort(data, schema())
        job = bank.train_joint(PRODUCT, read.upload_id, epsilon=2.0, delta=1e-6, epochs=30,
                               batch_size=64)  # fmt: skip
        keys = bank.he.new_keys("ckks-8192")
        key_id = bank.register_key(keys)
        token_file = tmp_path / "admin.token"
        token_file.write_text(TOKENS["admin"])
        code, out = _cli("operators", "exit", "opa", "--note", "licence ended",
                         "--target", target(running), "--token-file", str(token_file),
                         "--out", str(tmp_path / "exit.json"))  # fmt: skip
        assert code == 0 and "opa has exited" in out
        with pytest.raises(PermissionDeniedError, match="exited"):
            bank.list_datasets()
        with pytest.raises(PermissionDeniedError):
            bank.query_statistics(STATS, [count()], epsilon=0.1)
    receipt = load_bundle((tmp_path / "exit.json").read_text()).receipt
    assert receipt["kind"] == "principal.exit" and receipt["principal"] == "opa"
    assert receipt["started_by"] == "zone-admin" and receipt["note"] == "licence ended"

    # The job ended cancelled, its charge settled once under the rule (refund iff untouched).
    state, touched, release_id = _rows(
        running, "SELECT state, touched_data, release_id FROM jobs WHERE job_id = ?", job.job_id
    )[0]
    assert state == "cancelled"
    charge, job_micro = _rows(
        running, "SELECT state, epsilon_micro FROM charges WHERE release_id = ?", release_id
    )[0]
    assert charge == ("failed" if touched else "refunded")
    settlements = [r for _, k, r in _records(running)
                   if k in ("ledger.failed", "ledger.refund", "ledger.release")
                   and r.get("release_id") == release_id]  # fmt: skip
    assert len(settlements) == 1
    assert receipt["jobs_ended"] == [{"job_id": job.job_id, "state": "cancelled", "charge": charge}]

    # Both cohorts shredded with their own erasure receipts; the key's context is gone.
    erased = _rows(running, "SELECT upload_id, state, erasure_id FROM cohorts WHERE owner = 'opa'")
    assert {(u, s) for u, s, _ in erased} == {
        (read.upload_id, "erased"),
        (idle.upload_id, "erased"),
    }
    assert sorted(receipt["cohorts_erased"]) == sorted(e for _, _, e in erased)
    cohort_dir = running.services.config.joint_config.cohorts_dir
    assert not [p for p in cohort_dir.rglob("*") if read.upload_id in p.name or
                idle.upload_id in p.name]  # fmt: skip
    size, revoked = _rows(
        running,
        "SELECT length(context), revoked_at FROM verification_keys WHERE key_id = ?",
        key_id,
    )[0]
    assert size == 0 and revoked and receipt["keys_erased"] == [key_id]

    # Charges: nothing left open; the receipt's budget and bill are the ledger's.
    assert not _rows(
        running, "SELECT 1 FROM charges WHERE principal = 'opa' AND state = 'reserved'"
    )
    spent = _rows(running, "SELECT dataset, epsilon_micro FROM budget_spend WHERE principal='opa'")
    assert [(b["dataset"], b["epsilon_micro"]) for b in receipt["budget_spent"]] == spent
    assert spent == [("enterprises", 100_000 + (job_micro if charge == "failed" else 0))]

    # The receipt verifies offline against a signed checkpoint (pinned key), through the CLI.
    assert (
        _cli("audit", "checkpoint", "--config", config, "--out", str(tmp_path / "cp.json"))[0] == 0
    )
    with _client(running, TOKENS["admin"]) as admin:
        again = admin.exit_principal("opa", note="twice")
        bundle = admin.get_receipt(again.receipt_id)
    assert again.already_exited and again.receipt == receipt
    signing_key = running.services.config.audit.signing_key
    assert signing_key is not None
    assert verify_bundle(bundle, trusted=load_public_key(public_key_path(signing_key))) == ""
    (tmp_path / "bundle.json").write_text(json.dumps(bundle.to_dict()))
    code, out = _cli("receipt", "verify", str(tmp_path / "bundle.json"),
                     "--public-key", str(public_key_path(signing_key)))  # fmt: skip
    assert code == 0, out

    records = _records(running)
    exits = [r for _, k, r in records if k == "release" and r.get("kind") == "principal.exit"]
    assert len(exits) == 1
    started = [r for _, k, r in records if k == "principal.exit_started"]
    assert started == [{"principal": "zone-admin", "target": "opa", "note": "licence ended"}]
    with _client(running, tokens["opb"]) as other:  # another operator is untouched
        other.query_statistics(STATS, [count()], epsilon=0.1)


def test_exit_refuses_unknown_admins_and_oneself(zone) -> None:
    running, _ = zone
    with _client(running, TOKENS["admin"]) as admin:
        with pytest.raises(NotFoundError):
            admin.exit_principal("nobody")
        with pytest.raises(FailedPreconditionError):
            admin.exit_principal("zone-admin")
        with pytest.raises(FailedPreconditionError):
            admin.exit_principal("regulator")
    assert not _rows(running, "SELECT 1 FROM principal_exits WHERE principal <> 'opa'")


def test_console_exit_while_the_principal_keeps_calling(zone) -> None:
    running, tokens = zone
    assert running.console is not None
    supervisor = Browser(running.console.port, tokens["supervisor"])
    assert supervisor.post("/principals/opb/exit", {"note": "x"}).status == 403
    assert not _rows(running, "SELECT 1 FROM principal_exits WHERE principal = 'opb'")

    outcomes: list[str] = []
    stop = threading.Event()
    served = threading.Event()  # the exit lands while calls are being answered

    def hammer() -> None:
        with _client(running, tokens["opb"]) as bank:
            while not stop.is_set():
                try:
                    bank.query_statistics(STATS, [count()], epsilon=0.01)
                    outcomes.append("ok")
                    served.set()
                except PermissionDeniedError:
                    outcomes.append("refused")
                    return

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    admin = Browser(running.console.port, TOKENS["admin"])
    try:
        assert served.wait(30)
        reply = admin.post("/principals/opb/exit", {"note": "console exit"})
        for thread in threads:  # each calls on until refused
            thread.join(30)
    finally:
        stop.set()  # only if a thread was never refused (the assertion below then fails)
        for thread in threads:
            thread.join(30)
    assert reply.status == 303
    assert outcomes.count("refused") == 4 and "ok" in outcomes
    records = _records(running)
    began = next(s for s, k, r in records if k == "principal.exit_started" and r["target"] == "opb")
    charges = [s for s, k, r in records if k == "ledger.charge" and r["principal"] == "opb"]
    assert charges and max(charges) < began  # no work of opb started after the exit began
    assert not _rows(
        running, "SELECT 1 FROM charges WHERE principal = 'opb' AND state = 'reserved'"
    )
    receipt = next(r for _, k, r in records if k == "release" and r.get("kind") == "principal.exit"
                   and r["principal"] == "opb")  # fmt: skip
    spent = _rows(running, "SELECT epsilon_micro FROM budget_spend WHERE principal = 'opb'")[0][0]
    assert receipt["budget_spent"][0]["epsilon_micro"] == spent
    page = admin.get("/principals").text
    assert "exited" in page and f"/releases/{receipt['release_id']}/receipt" in page
    assert admin.get(f"/releases/{receipt['release_id']}/receipt").status == 200


def test_work_already_past_the_interceptor_is_refused_after_the_exit_began(zone) -> None:
    """A call of the exiting principal that was authenticated before the exit row committed.

    Its reservation, cohort upload or key registration runs after the row: each re-checks the
    exit inside its own write transaction and is refused, changing nothing.
    """
    running, _ = zone
    services = running.services
    assert _rows(running, "SELECT 1 FROM principal_exits WHERE principal = 'opa'")
    grant = services.serving.current.authorize(
        services.serving.current.principals["opa"], STATS, today_utc()
    ).grant
    assert grant is not None
    charges = _rows(running, "SELECT COUNT(*) FROM charges")[0][0]
    with pytest.raises(PermissionDenied, match="exited"):
        services.desk.reserve(
            Order(principal="opa", grant=grant, product=STATS, unit="call", request_id="late")
        )
    with pytest.raises(PermissionDenied, match="exited"):
        services.verification.keys.register("opa", "ckks-8192", _public_context(), "late")
    assert _rows(running, "SELECT COUNT(*) FROM charges")[0][0] == charges
    assert not _rows(running, "SELECT 1 FROM verification_keys WHERE length(context) > 0 "
                     "AND owner = 'opa'")  # fmt: skip


def _public_context() -> bytes:
    from zone.client.he import new_keys

    return new_keys("ckks-8192").public_context()


def test_concurrent_exits_issue_one_receipt(zone) -> None:
    running, _ = zone
    results: list[Any] = []

    def leave() -> None:
        with _client(running, TOKENS["admin"]) as admin:
            results.append(admin.exit_principal("city-research", note="concurrent"))

    threads = [threading.Thread(target=leave) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 3 and len({r.receipt_id for r in results}) == 1
    assert sorted(r.already_exited for r in results) == [False, True, True]
    exits = [r for _, k, r in _records(running)
             if k == "release" and r.get("kind") == "principal.exit"
             and r["principal"] == "city-research"]  # fmt: skip
    assert len(exits) == 1
    with (
        _client(running, TOKENS["researcher"]) as researcher,
        pytest.raises(PermissionDeniedError, match="exited"),
    ):
        researcher.list_datasets()
